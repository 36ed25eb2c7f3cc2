import ArgumentParser
import BatonCommandLine
import BatonCore
import BatonStore
import Foundation
import Logging

struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens", abstract: "Make, list and revoke API tokens (kept in PostgreSQL as digests).",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a token; its secret is printed once, as the last word of the output.")

        @OptionGroup var options: GlobalOptions
        @Option(help: "A unique name among live tokens: letters, digits, '.', '_', '-' (at most 63).") var name: String
        @Option(
            help: ArgumentHelp(
                "Comma-separated scopes: \(APIScope.allCases.map(\.rawValue).joined(separator: ", ")).",
                valueName: "scopes"))
        var scopes: String
        @Option(help: "Days until the token stops working; never when absent.") var expiresInDays: Int?

        func run() async throws {
            options.bootstrapLogging()
            let scopes: Set<APIScope>
            do {
                scopes = try APIScope.parseList(self.scopes)
            } catch {
                throw ValidationError(error.description)
            }
            guard !scopes.isEmpty else { throw ValidationError("give at least one scope") }
            guard name.range(of: #"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"#, options: .regularExpression) != nil else {
                throw ValidationError(
                    "--name must be letters, digits, '.', '_' or '-' (at most 63), not '\(name.prefix(70))'")
            }
            if let days = expiresInDays, !(1...3650).contains(days) {
                throw ValidationError("--expires-in-days must be 1 to 3650")
            }
            let expiresAt = expiresInDays.map { Date().addingTimeInterval(Double($0) * 86_400) }
            let actor = "cli:\(GlobalOptions.environment["USER"] ?? "unknown")"
            let (token, secret) = try await Runtime.withStore(options, logger: Logger(label: "baton.tokens")) {
                try await $0.access.createToken(name: name, scopes: scopes, createdBy: actor, expiresAt: expiresAt)
            }
            print(
                "token \(token.name) (\(token.scopes.map(\.rawValue).joined(separator: ","))) made; it is shown only now:"
            )
            print(secret)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every token, live ones first; never the secrets.")

        @OptionGroup var options: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            options.bootstrapLogging()
            let tokens = try await Runtime.withStore(options, logger: Logger(label: "baton.tokens")) {
                try await $0.access.tokens()
            }
            if json {
                print(try JSONOutput.render(tokens))
                return
            }
            print("NAME                 SCOPES                                   STATE     LAST USED")
            for token in tokens {
                let state =
                    token.revokedAt != nil
                    ? "revoked" : (token.expiresAt.map { $0 < Date() } == true ? "expired" : "live")
                let scopes = token.scopes.map(\.rawValue).joined(separator: ",")
                let used = token.lastUsedAt.map { ISO8601DateFormatter().string(from: $0) } ?? "never"
                print(
                    token.name.padding(toLength: 20, withPad: " ", startingAt: 0) + " "
                        + scopes.padding(toLength: 40, withPad: " ", startingAt: 0) + " "
                        + state.padding(toLength: 9, withPad: " ", startingAt: 0) + " " + used)
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a live token; the API refuses it within BATON_API_TOKEN_CACHE_SECONDS (10 s).")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The token's name.") var name: String

        func run() async throws {
            options.bootstrapLogging()
            let actor = "cli:\(GlobalOptions.environment["USER"] ?? "unknown")"
            let revoked = try await Runtime.withStore(options, logger: Logger(label: "baton.tokens")) {
                try await $0.access.revokeToken(named: name, by: actor)
            }
            guard revoked else {
                print("no live token named '\(name.prefix(70))'")
                throw ExitCode(1)
            }
            print("token \(name) revoked")
        }
    }
}
