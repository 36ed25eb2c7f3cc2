import BatonStore

/// The authenticated caller of the request being handled, set by ``AuthenticationMiddleware``.
enum RequestCaller {
    @TaskLocal static var current: Caller?

    /// The caller; a handler behind the authentication middleware always has one.
    static func required() throws -> Caller {
        guard let caller = current else { throw APIProblem.unauthorized("no bearer token") }
        return caller
    }
}
