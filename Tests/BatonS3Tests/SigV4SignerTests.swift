import Foundation
import Testing

@testable import BatonS3

@Suite("SigV4 signing and S3 URIs")
struct SigV4SignerTests {
    @Test("The signature of AWS's documented GET Bucket example")
    func documentedExample() throws {
        // https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html, "GET Bucket (List Objects)".
        let signer = SigV4Signer(
            credentials: S3Credentials(
                accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            region: "us-east-1")
        let date = try #require(ISO8601DateFormatter().date(from: "2013-05-24T00:00:00Z"))
        let headers = signer.headers(
            method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/", query: ["max-keys": "2", "prefix": "J"],
            date: date)
        let authorization = try #require(headers.first { $0.name == "Authorization" }?.value)
        #expect(
            authorization
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
                + "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
        #expect(headers.contains { $0.name == "x-amz-date" && $0.value == "20130524T000000Z" })
        #expect(!headers.contains { $0.name == "x-amz-security-token" })
    }

    @Test("Temporary credentials sign their session token; paths encode all but unreserved characters")
    func sessionTokenAndEncoding() {
        let signer = SigV4Signer(
            credentials: S3Credentials(accessKeyID: "AK", secretAccessKey: "SK", sessionToken: "TOKEN"),
            region: "eu-west-1")
        let headers = signer.headers(method: "HEAD", host: "s3.example", path: "/b/k")
        #expect(headers.contains { $0.name == "x-amz-security-token" && $0.value == "TOKEN" })
        #expect(headers.first { $0.name == "Authorization" }?.value.contains("x-amz-security-token") == true)
        #expect(SigV4Signer.encodePath("runs/한 a+b~_.-/x.txt") == "runs/%ED%95%9C%20a%2Bb~_.-/x.txt")
        #expect(!"\(signer.credentials)".contains("SK"))
    }

    @Test("s3:// URIs: bucket and key, and what is refused")
    func locations() {
        #expect(
            S3Location(uri: "s3://baton-artifacts/runs/r1/a/1/data")
                == S3Location(bucket: "baton-artifacts", key: "runs/r1/a/1/data"))
        #expect(S3Location(uri: "s3://bucket")?.key == "")
        #expect(S3Location(uri: "s3://bucket/a/")?.folderPrefix == "a/")
        #expect(S3Location(uri: "s3://bucket/a")?.folderPrefix == "a/")
        #expect(S3Location(uri: "file:///tmp/x") == nil)
        #expect(S3Location(uri: "s3://Upper/x") == nil)
        #expect(S3Location(uri: "s3://ab/x") == nil)
        #expect(S3Location(uri: "s3:///x") == nil)
    }

    @Test("The AWS variables: endpoint, region, key or web identity")
    func configuration() {
        let keyed = S3Configuration(environment: [
            "AWS_ENDPOINT_URL": "http://127.0.0.1:8333/", "AWS_DEFAULT_REGION": "eu-central-1",
            "AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret",
        ])
        #expect(keyed.endpoint == "http://127.0.0.1:8333")
        #expect(keyed.region == "eu-central-1")
        #expect(keyed.credentials == .key(S3Credentials(accessKeyID: "id", secretAccessKey: "secret")))
        #expect(
            keyed.address(of: S3Location(bucket: "b", key: "a b/c")) == (
                "http://127.0.0.1:8333", "127.0.0.1:8333", "/b/a%20b/c"
            ))

        let irsa = S3Configuration(environment: [
            "AWS_REGION": "us-west-2", "AWS_ROLE_ARN": "arn:aws:iam::1:role/baton",
            "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token",
        ])
        #expect(
            irsa.credentials
                == .webIdentity(
                    roleARN: "arn:aws:iam::1:role/baton", tokenFile: "/var/run/token", sessionName: "baton",
                    stsEndpoint: "https://sts.us-west-2.amazonaws.com"))
        #expect(
            irsa.address(of: S3Location(bucket: "b", key: "k")) == (
                "https://b.s3.us-west-2.amazonaws.com", "b.s3.us-west-2.amazonaws.com", "/k"
            ))
        #expect(S3Configuration(environment: [:]).credentials == .none)
        #expect(!S3Configuration(environment: ["BATON_S3_VERIFY_ETAG": "false"]).verifiesETag)
    }

    @Test("XML text is unescaped")
    func xml() {
        #expect(S3XML.unescape("a&amp;b&lt;c&gt;&quot;&apos;&#54620;&#xD55C;") == "a&b<c>\"'한한")
        #expect(S3XML.unescape("broken &amp") == "broken &amp")
        #expect(
            S3XML.values("Key", in: "<Contents><Key>a</Key></Contents><Contents><Key>b&amp;c</Key></Contents>").map(
                S3XML.unescape) == ["a", "b&c"])
    }
}
