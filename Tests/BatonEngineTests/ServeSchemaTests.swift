import BatonStore
import BatonTestSupport
import Foundation
import Testing

/// `serve` and the database schema it needs.
@Suite("serve and the schema", .timeLimit(.minutes(2)))
struct ServeSchemaTests {
    @Test("serve refuses a database that was never migrated, naming the versions and `baton migrate`")
    func refusesUnmigrated() async throws {
        let fixture = try await EngineFixture()
        let bare = try await ScratchDatabase.create(migrate: false)
        let serve = try BatonProcess(
            ["serve"], environment: fixture.environment.merging(["BATON_DATABASE_URL": bare.url]) { $1 },
            logName: "\(fixture.prefix)-unmigrated")
        #expect(await serve.waitForExit(within: .seconds(60)), "serve exits")
        #expect(serve.process.terminationStatus != 0)
        #expect(
            serve.log.contains("up to 0 applied; this baton needs \(MigrationRunner.requiredVersion)")
                && serve.log.contains("run `baton migrate`"), "\(serve.log.suffix(2000))")
    }
}
