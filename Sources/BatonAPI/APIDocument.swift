import Foundation

/// The OpenAPI document the server is generated from, served at `/v1/openapi.yaml`.
enum APIDocument {
    /// Its bytes, as shipped in the module's resources.
    static let bytes: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
            let data = try? Data(contentsOf: url)
        else { return Array("openapi.yaml is missing from the installation\n".utf8) }
        return Array(data)
    }()
}
