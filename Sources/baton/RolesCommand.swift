import ArgumentParser
import BatonCommandLine

/// `baton roles`: the roles `baton serve --roles` accepts, so deployments can be checked
/// against the binary rather than against a list kept by hand.
struct RolesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roles", abstract: "List the roles of `baton serve` and what each does.")

    @Flag(help: "Print JSON: [{name, summary}].") var json = false

    func run() throws {
        if json { return print(try JSONOutput.render(ServeRole.allCases)) }
        for role in ServeRole.allCases {
            print("\(role.rawValue)\t\(role.summary)")
        }
    }
}
