/// A self-signed CA certificate in PEM, for configurations that must parse (never used to
/// verify a connection).
public enum TestCertificate {
    /// The certificate.
    public static let caPEM = """
        -----BEGIN CERTIFICATE-----
        MIIBkTCCATegAwIBAgIUXLwNrkRXTRWt2QBnBkNrx5ka4RAwCgYIKoZIzj0EAwIw
        HTEbMBkGA1UEAwwSZmFrZS1rdWJlcm5ldGVzLWNhMCAXDTI2MTEyOTE1MDMyNVoY
        DzIxMjYxMTA1MTUwMzI1WjAdMRswGQYDVQQDDBJmYWtlLWt1YmVybmV0ZXMtY2Ew
        WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQUVCkXkjfRC2odhlLITiUzd61lYwsx
        2lH5SdFp1Tv/9oAbGrZFgnlPfbsq5FTw692QNeVsvhomu7B2WdI/2LIro1MwUTAd
        BgNVHQ4EFgQUGt1+PopWZ/23y5S67oIe5p5wJG8wHwYDVR0jBBgwFoAUGt1+PopW
        Z/23y5S67oIe5p5wJG8wDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBF
        AiAxm7uHEyuboxY4PgYBs1OEMTqUpgFlRyAziRtbNY9thwIhALDaSKkyu6p/C/YB
        rJWsZacRbFj2RZV6rM/8X3q3VtQc
        -----END CERTIFICATE-----

        """
}
