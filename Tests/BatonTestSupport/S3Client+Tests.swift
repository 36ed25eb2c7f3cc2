import BatonS3
import BatonTestEnvironment
import Foundation
import NIOHTTP1

extension S3Client {
    /// A client of the local stack's S3 server (SeaweedFS), from the AWS variables
    /// `scripts/stack env` prints; a missing endpoint is a failure that says how to fix it.
    public static func stack() throws -> S3Client {
        _ = try TestStack.variable("AWS_ENDPOINT_URL_S3")
        var configuration = S3Configuration(environment: ProcessInfo.processInfo.environment)
        // The whole suite shares two cores with the stack: a PUT of a test's thousand has been
        // seen to wait past the 10 s default.
        configuration.requestTimeout = .seconds(30)
        return S3Client(configuration: configuration, logger: TestStack.logger)
    }

    /// The bucket of the stack's artifact root (`BATON_ARTIFACT_ROOT=s3://<bucket>/...`).
    public static func stackBucket() throws -> String {
        let root = try TestStack.variable("BATON_ARTIFACT_ROOT")
        guard let location = S3Location(uri: root) else { throw NotAnS3Root(root: root) }
        return location.bucket
    }

    /// The stack's artifact root is not in S3.
    public struct NotAnS3Root: Error, CustomStringConvertible {
        /// The root.
        public var root: String
        public var description: String {
            "BATON_ARTIFACT_ROOT is \(root), not s3://: run `eval \"$(scripts/stack env)\"`"
        }
    }

    /// Writes `bytes` at `location` in one `PUT`.
    public func put(_ location: S3Location, _ bytes: [UInt8]) async throws {
        _ = try await send(.PUT, location, body: bytes)
    }

    /// Deletes the object at `location` (S3 answers 204 whether or not it existed).
    public func delete(_ location: S3Location) async throws {
        _ = try await send(.DELETE, location, expect: [200, 204])
    }
}
