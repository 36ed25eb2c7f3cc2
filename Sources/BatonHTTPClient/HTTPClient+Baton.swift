import AsyncHTTPClient
import NIOCore
import NIOPosix

extension HTTPClient {
    /// The process-wide HTTP client of Baton's API clients: pooled connections, a 10 s connect
    /// timeout and no idle-read timeout, because every call carries its own deadline (a Ray
    /// Serve deploy may rightly take minutes without a byte, which `HTTPClient.shared`'s 90 s
    /// read timeout would cut). Never shut down, like `HTTPClient.shared`.
    public static let baton: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10), read: nil)
        return HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
    }()
}
