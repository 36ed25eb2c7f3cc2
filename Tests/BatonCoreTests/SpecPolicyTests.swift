import BatonCore
import Foundation
import Testing

/// The spec policy (`BATON_SPEC_POLICY`): who may send inline specs, which entrypoints, images
/// and `runtime_env` keys a spec may use; each refusal names its rule.
@Suite("Spec policy")
struct SpecPolicyTests {
    static let paths = LocalPathPolicy(jobsRoot: URL(filePath: "/srv/baton/jobs"))

    static let file = """
        inline_specs: {api_scopes: [admin], kafka: false}
        entrypoint_prefixes: ["python -m jobs.", "python3 train.py"]
        images: ["rayproject/ray:2.*", "registry.example.com/llm/*-cuda"]
        runtime_env_keys: [working_dir, env_vars, image_uri, container]
        """

    func spec(entrypoint: String = "python -m jobs.train", runtimeEnv: String = "{working_dir: code}") throws
        -> PipelineSpec
    {
        try PipelineSpecParser.parse(
            """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: policy}
            stages:
              - {name: prep, kind: noop}
              - name: train
                needs: [prep]
                ray: {entrypoint: "\(entrypoint)", runtime_env: \(runtimeEnv)}
            """)
    }

    @Test("The default policy runs any entrypoint and image, refuses unknown runtime_env keys, allows runs:submit")
    func defaults() throws {
        let policy = SpecPolicy(paths: Self.paths)
        #expect(policy.violation(in: try spec(entrypoint: "bash -c 'echo hi; ls'"), params: [:]) == nil)
        #expect(policy.violation(in: try spec(runtimeEnv: "{image_uri: 'anything:latest'}"), params: [:]) == nil)
        #expect(
            policy.violation(in: try spec(runtimeEnv: "{workdir: code}"), params: [:])?.hasPrefix(
                "spec policy (runtime_env_keys): stage train: runtime_env key 'workdir' is not allowed") == true)
        #expect(policy.inlineSpecRefusal(scopes: [.runsSubmit]) == nil)
        #expect(policy.inlineSpecRefusal(scopes: nil) == nil)
        #expect(policy.inlineSpecRefusal(scopes: [.runsRead]) != nil)
        // The paths are judged too.
        #expect(
            policy.violation(in: try spec(runtimeEnv: "{working_dir: /etc}"), params: [:])?.hasPrefix(
                "path policy: stage train: working_dir '/etc' is outside") == true)
    }

    @Test("A policy file: inline specs for admins only and never from Kafka; entrypoints, images and keys by rule")
    func file() throws {
        let policy = try SpecPolicy.load(yaml: Self.file, paths: Self.paths)
        #expect(policy.inlineSpecRefusal(scopes: [.admin]) == nil)
        #expect(
            policy.inlineSpecRefusal(scopes: [.runsSubmit])
                == "spec policy (inline_specs.api_scopes): only admin tokens may send a spec; name a registered pipeline (`pipeline`)"
        )
        #expect(policy.inlineSpecRefusal(scopes: nil)?.hasPrefix("spec policy (inline_specs.kafka):") == true)

        #expect(policy.violation(in: try spec(), params: [:]) == nil)
        #expect(policy.violation(in: try spec(entrypoint: "python3 train.py --epochs 3"), params: [:]) == nil)
        let bash = policy.violation(in: try spec(entrypoint: "bash -c 'cat /etc/shadow'"), params: [:])
        #expect(
            bash
                == "spec policy (entrypoint_prefixes): stage train: entrypoint 'bash -c 'cat /etc/shadow'' does not start "
                + "with an allowed command ('python -m jobs.', 'python3 train.py')")
        for injected in [
            "python -m jobs.train; curl evil", "python -m jobs.x && rm -rf /", "python -m jobs.x $(id)",
            "python -m jobs.x | sh", "python -m jobs.x > /etc/passwd",
        ] {
            let refusal = policy.violation(in: try spec(entrypoint: injected), params: [:])
            #expect(refusal?.contains("holds the shell operator") == true, "\(injected): \(refusal ?? "allowed")")
        }

        #expect(policy.violation(in: try spec(runtimeEnv: "{image_uri: 'rayproject/ray:2.54.0'}"), params: [:]) == nil)
        #expect(
            policy.violation(
                in: try spec(runtimeEnv: "{container: {image: 'registry.example.com/llm/sft-cuda'}}"), params: [:])
                == nil)
        let image = policy.violation(in: try spec(runtimeEnv: "{image_uri: 'evil/miner:1'}"), params: [:])
        #expect(image?.hasPrefix("spec policy (images): stage train: image 'evil/miner:1' is not allowed") == true)
        let suffix = policy.violation(
            in: try spec(runtimeEnv: "{image_uri: 'registry.example.com/llm/sft-cpu'}"), params: [:])
        #expect(suffix != nil, "the pattern's end must match too")
        let pip = policy.violation(in: try spec(runtimeEnv: "{pip: [requests]}"), params: [:])
        #expect(
            pip
                == "spec policy (runtime_env_keys): stage train: runtime_env key 'pip' is not allowed; allowed: "
                + "container, env_vars, image_uri, working_dir")
    }

    @Test(
        "A policy file with a mistake is refused with where it is",
        arguments: [
            ("inline_spec: {kafka: false}", "unknown key 'inline_spec'"),
            ("inline_specs: {kafka: no-way}", "inline_specs.kafka must be true or false"),
            ("inline_specs: {api_scopes: [root]}", "inline_specs.api_scopes: unknown scope 'root'"),
            ("inline_specs: {who: [admin]}", "unknown key 'inline_specs.who'"),
            ("entrypoint_prefixes: python", "entrypoint_prefixes must be a list of strings"),
            ("entrypoint_prefixes: ['']", "an empty prefix allows every entrypoint"),
            ("images: [1, 2]", "images must be a list of strings"),
            ("[1, 2]", "the file must be a mapping of rules"),
            ("a: [", "not YAML"),
        ])
    func mistakes(yaml: String, problem: String) {
        #expect(throws: SpecPolicyError.self) { try SpecPolicy.load(yaml: yaml, paths: Self.paths) }
        do {
            _ = try SpecPolicy.load(yaml: yaml, paths: Self.paths)
        } catch {
            #expect(error.message.contains(problem), "\(error.message)")
        }
    }

    @Test("An empty file is the default policy")
    func empty() throws {
        #expect(try SpecPolicy.load(yaml: "", paths: Self.paths) == SpecPolicy(paths: Self.paths))
        #expect(try SpecPolicy.load(yaml: "# nothing set\n", paths: Self.paths) == SpecPolicy(paths: Self.paths))
    }
}
