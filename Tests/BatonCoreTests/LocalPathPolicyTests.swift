import BatonCore
import Foundation
import Testing

/// Where a spec may point at local files: the jobs root for code, the jobs and data roots for
/// inputs (the review's traversal: `working_dir: /etc`, `../x`, an input param `/`).
@Suite("Local path policy")
struct LocalPathPolicyTests {
    let policy = LocalPathPolicy(jobsRoot: URL(filePath: "/srv/baton/jobs"), dataRoots: [URL(filePath: "/data")])

    func spec(workingDir: String = "jobs", input: String = "params.corpus") throws -> PipelineSpec {
        try PipelineSpecParser.parse(
            """
            apiVersion: baton/v1
            kind: Pipeline
            metadata: {name: paths}
            params:
              corpus: {type: string, default: data/corpus.jsonl}
            stages:
              - {name: prep, kind: noop}
              - name: train
                needs: [prep]
                inputs: {corpus: \(input)}
                ray: {entrypoint: python3 train.py, runtime_env: {working_dir: "\(workingDir)"}}
            """)
    }

    @Test("A working_dir inside the jobs root is the folder there; a URI is remote")
    func workingDirectories() throws {
        #expect(try policy.workingDirectory("jobs")?.path == "/srv/baton/jobs/jobs")
        #expect(try policy.workingDirectory("a/./b/../c")?.path == "/srv/baton/jobs/a/c")
        #expect(try policy.workingDirectory("/srv/baton/jobs/x")?.path == "/srv/baton/jobs/x")
        #expect(try policy.workingDirectory("gcs://bucket/code.zip") == nil)
    }

    @Test(
        "A working_dir of /etc, ../x or a sibling of the jobs root is refused with the rule",
        arguments: [
            "/etc", "../x", "jobs/../../secret", "/srv/baton/jobs-other", "/srv/baton",
        ])
    func refusedWorkingDirectories(_ directory: String) {
        let error = #expect(throws: PathRefusal.self) { try policy.workingDirectory(directory) }
        #expect(error?.reason.contains("outside the jobs root (BATON_JOBS_ROOT)") == true)
    }

    @Test("Inputs: inside the data roots, the jobs root or the working_dir; remote ones are not judged")
    func inputs() throws {
        let code = URL(filePath: "/srv/baton/jobs/code")
        #expect(try policy.localInput("file:///data/corpus", workingDirectory: code)?.path == "/data/corpus")
        #expect(
            try policy.localInput("/srv/baton/jobs/data/x", workingDirectory: nil)?.path == "/srv/baton/jobs/data/x")
        #expect(
            try policy.localInput("data/x.jsonl", workingDirectory: code)?.path == "/srv/baton/jobs/code/data/x.jsonl")
        #expect(try policy.localInput("s3://bucket/corpus", workingDirectory: code) == nil)
        #expect(try policy.localInput("data/x", workingDirectory: nil) == nil)
        for uri in ["/", "file:///etc/passwd", "/data/../etc/shadow", "file:///data-evil/x"] {
            let error = #expect(throws: PathRefusal.self) { try policy.localInput(uri, workingDirectory: code) }
            #expect(error?.reason.contains("outside the jobs root and the data roots") == true, "\(uri)")
        }
        #expect(throws: PathRefusal.self) { try policy.localInput("../../etc/passwd", workingDirectory: code) }
    }

    @Test("A spec is judged with its params filled in; the sentence names the stage and the rule")
    func violations() throws {
        #expect(policy.violation(in: try spec(), params: ["corpus": .string("data/corpus.jsonl")]) == nil)
        #expect(policy.violation(in: try spec(), params: ["corpus": .string("s3://b/corpus")]) == nil)
        let root = try #require(policy.violation(in: try spec(), params: ["corpus": .string("/")]))
        #expect(root.hasPrefix("path policy: stage train: corpus: input '/' is outside"), "\(root)")
        let etc = try #require(policy.violation(in: try spec(workingDir: "/etc"), params: [:]))
        #expect(etc == "path policy: stage train: working_dir '/etc' is outside the jobs root (BATON_JOBS_ROOT)")
        #expect(policy.violation(in: try spec(workingDir: "../x"), params: [:]) != nil)
    }
}
