import BatonCore
import BatonStore
import Foundation
import Hummingbird
import Logging
import Mustache

/// The web console under `/ui`: server-rendered pages (swift-mustache templates) of runs, a
/// run's DAG and stages, lineage, models and their rollouts, dead letters; live updates come
/// from `console.js` over the API's event streams. Login is with an API token, kept in an
/// HttpOnly, SameSite=Strict session cookie; every page checks it as the API checks a bearer
/// token, and the buttons (cancel, retry) need the same scopes and are audited the same way.
struct Console: Sendable {
    /// The cookie that carries the token of a logged-in browser.
    static let sessionCookie = "baton_session"

    let store: BatonStore
    let verifier: TokenVerifier
    let configuration: APIServer.Configuration
    let templates: MustacheLibrary
    let assets: [String: (contentType: String, bytes: [UInt8])]
    let logger: Logger

    /// Loads the templates and assets shipped in the module's resources.
    static func load(
        store: BatonStore, verifier: TokenVerifier, configuration: APIServer.Configuration, logger: Logger
    ) async throws -> Console {
        guard let templates = Bundle.module.url(forResource: "templates", withExtension: nil),
            let assets = Bundle.module.url(forResource: "assets", withExtension: nil)
        else { throw ResourcesMissing() }
        var files: [String: (String, [UInt8])] = [:]
        for (name, type) in [
            ("console.js", "text/javascript; charset=utf-8"), ("console.css", "text/css; charset=utf-8"),
        ] {
            files[name] = (type, Array(try Data(contentsOf: assets.appending(path: name))))
        }
        return Console(
            store: store, verifier: verifier, configuration: configuration,
            templates: try await MustacheLibrary(directory: templates.path), assets: files, logger: logger)
    }

    /// The console's templates or assets are not installed next to the binary.
    struct ResourcesMissing: Error, CustomStringConvertible {
        var description: String {
            "the web console's templates are missing: install baton_BatonAPI.resources next to the baton binary"
        }
    }

    /// Adds the console's routes.
    func register(on router: Router<BasicRequestContext>) {
        router.get("ui/assets/:file") { _, context -> Response in
            guard let name = context.parameters.get("file"), let asset = assets[name] else {
                return Response(status: .notFound)
            }
            return Response(
                status: .ok, headers: [.contentType: asset.contentType, .cacheControl: "no-cache"],
                body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
        }
        router.get("ui/login") { _, _ in loginPage() }
        router.get("ui/login/oidc") { request, _ in try await startOIDCLogin(request) }
        router.get("ui/login/callback") { request, _ in try await finishOIDCLogin(request) }
        router.post("ui/login") { request, context in try await login(request, context: context) }
        router.post("ui/logout") { request, _ in
            guard Self.isSameOrigin(request) else {
                return message("Refused", "The form came from another site.", .forbidden)
            }
            var response = Response(status: .seeOther, headers: [.location: "/ui/login"])
            response.setCookie(cookie(value: "", maxAge: 0, request: request))
            return response
        }
        router.get("ui") { request, _ in
            try await signedIn(request, needs: .runsRead) { try await runsPage(request, $0) }
        }
        router.get("ui/runs/:id") { request, context in
            try await signedIn(request, needs: .runsRead) { try await runPage(context.parameters.get("id") ?? "", $0) }
        }
        router.post("ui/runs/:id/cancel") { request, context in
            try await signedIn(request, needs: .runsCancel) { caller in
                try await cancel(context.parameters.get("id") ?? "", request: request, caller: caller)
            }
        }
        router.post("ui/runs/:id/retry") { request, context in
            try await signedIn(request, needs: .runsSubmit) { caller in
                try await retry(context.parameters.get("id") ?? "", request: request, caller: caller)
            }
        }
        router.get("ui/lineage") { request, _ in
            try await signedIn(request, needs: .runsRead) { try await lineagePage(request, $0) }
        }
        router.get("ui/models") { request, _ in
            try await signedIn(request, needs: .runsRead) { try await modelsPage($0) }
        }
        router.get("ui/models/:name") { request, context in
            try await signedIn(request, needs: .runsRead) {
                try await modelPage(context.parameters.get("name") ?? "", $0)
            }
        }
        router.get("ui/dead-letters") { request, _ in
            try await signedIn(request, needs: .admin) { try await deadLettersPage($0) }
        }
    }

    // MARK: - Sessions

    /// Runs `body` for the caller of the session cookie; without one, the login page; without
    /// the scope, a 403 page.
    private func signedIn(
        _ request: Request, needs scope: APIScope, _ body: (Caller) async throws -> Response
    ) async throws -> Response {
        guard let secret = request.cookies[Self.sessionCookie]?.value, !secret.isEmpty,
            let caller = try await verifier.caller(secret: secret)
        else { return Response(status: .seeOther, headers: [.location: "/ui/login"]) }
        guard caller.may(scope) else {
            return message(
                "Forbidden", "This page needs scope \(scope.rawValue); your token does not have it.", .forbidden)
        }
        return try await body(caller)
    }

    private func login(_ request: Request, context: BasicRequestContext) async throws -> Response {
        struct Form: Decodable { var token: String }
        var request = request
        let body = try await request.collectBody(upTo: 20_000)
        let form = try? URLEncodedFormDecoder().decode(Form.self, from: String(buffer: body))
        let token = form?.token.trimmingCharacters(in: .whitespaces) ?? ""
        guard
            token.range(of: #"^baton_[A-Za-z0-9_-]{20,100}$"#, options: .regularExpression) != nil
                || OIDCVerifier.looksLikeJWT(token),
            let caller = try await verifier.caller(secret: token)
        else {
            return loginPage(flash: "That token is unknown, revoked or expired.", .unauthorized)
        }
        try await store.access.audit(caller, action: "console.login", target: nil, outcome: "signed_in")
        var response = Response(status: .seeOther, headers: [.location: "/ui"])
        response.setCookie(cookie(value: token, maxAge: 12 * 3600, request: request))
        return response
    }

    /// The session cookie: `Secure` when the API serves TLS or sits behind a TLS ingress.
    func cookie(value: String, maxAge: Int, request: Request) -> Cookie {
        Cookie(
            name: Self.sessionCookie, value: value, maxAge: maxAge, path: "/",
            secure: configuration.tls != nil || request.headers[.init("X-Forwarded-Proto")!] == "https",
            httpOnly: true, sameSite: .strict)
    }

    /// Whether a form post came from this site (the cookie is SameSite=Strict as well).
    static func isSameOrigin(_ request: Request) -> Bool {
        guard let origin = request.headers[.origin] else {
            return request.headers[.init("Sec-Fetch-Site")!].map { $0 == "same-origin" || $0 == "none" } ?? true
        }
        guard let host = request.head.authority else { return false }
        return origin == "http://\(host)" || origin == "https://\(host)"
    }

    // MARK: - Rendering

    func page(_ template: String, _ object: [String: Any], _ status: HTTPResponse.Status = .ok) -> Response {
        var object = object
        object["page"] = template
        let html = templates.render(object, withTemplate: template) ?? "template \(template) is missing"
        return Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                .contentSecurityPolicy: "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
                .init("X-Content-Type-Options")!: "nosniff",
            ],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    func message(_ heading: String, _ text: String, _ status: HTTPResponse.Status) -> Response {
        page("message", ["title": heading, "heading": heading, "message": text], status)
    }

    /// A text for a template section: `false` (the section is left out) when there is none.
    static func present(_ text: String?) -> Any {
        guard let text, !text.isEmpty else { return false }
        return text
    }

    static func time(_ date: Date?) -> String {
        date.map { $0.formatted(.iso8601).replacingOccurrences(of: "T", with: " ") } ?? ""
    }

    static func duration(_ seconds: Double?) -> String {
        guard let seconds else { return "" }
        return seconds < 60 ? String(format: "%.1f s", seconds) : "\(Int(seconds) / 60) min \(Int(seconds) % 60) s"
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e12 ? String(Int(value)) : String(format: "%.4g", value)
    }

    static func pairs(_ values: [String: Double]) -> [[String: String]] {
        values.sorted { $0.key < $1.key }.map { ["key": $0.key, "value": number($0.value)] }
    }

    static func pairs(_ values: [String: JSONValue]) -> [[String: String]] {
        values.sorted { $0.key < $1.key }.map { key, value in
            let text: String
            switch value {
            case .string(let string): text = string
            case .double(let double): text = number(double)
            case .int(let int): text = String(int)
            case .bool(let bool): text = String(bool)
            case .null: text = "null"
            default: text = String(decoding: (try? CloudEvent.encode(value)) ?? [], as: UTF8.self)
            }
            return ["key": key, "value": String(text.prefix(200))]
        }
    }
}
