import XCTest
@testable import TOTP
@testable import Crypto

final class OTPAuthURITests: XCTestCase {
    func testDefaults() throws {
        let u = try OTPAuthURI(parsing: "otpauth://totp/alice@example.com?secret=JBSWY3DPEHPK3PXP")
        XCTAssertEqual(u.parameters, .defaults)
        XCTAssertEqual(u.account, "alice@example.com")
        XCTAssertNil(u.issuer)
        XCTAssertEqual(u.secret, try Base32.decode("JBSWY3DPEHPK3PXP"))
    }

    func testAllParametersAndPercentDecoding() throws {
        let u = try OTPAuthURI(parsing: "OTPAUTH://TOTP/ACME%20Co:john.doe%40email.com?secret=jbswy3dpehpk3pxp&issuer=ACME%20Co&algorithm=sha256&digits=8&period=60")
        XCTAssertEqual(u.issuer, "ACME Co")
        XCTAssertEqual(u.account, "john.doe@email.com")
        XCTAssertEqual(u.parameters, try TOTPParameters(algorithm: .sha256, digits: 8, period: 60))
        let plus = try OTPAuthURI(parsing: "otpauth://totp/x?issuer=ACME+Co&secret=JBSWY3DPEHPK3PXP&algorithm=SHA512&digits=7")
        XCTAssertEqual(plus.issuer, "ACME Co")
        XCTAssertEqual(plus.parameters, try TOTPParameters(algorithm: .sha512, digits: 7, period: 30))
    }

    /// A mangled URI puts the secret where a type, parameter name or value should be; no refusal
    /// quotes any of it.
    func testRefusalsNeverQuoteTheURI() {
        let seed = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
        let cases: [(String, String)] = [
            ("otpauth://totp/x?\(seed)", "unknown otpauth parameter number 1"),
            ("otpauth://totp/x?issuer=A&secret:\(seed)", "unknown otpauth parameter number 2"),
            ("otpauth://totp/x?sec%72et%3D\(seed)", "unknown otpauth parameter number 1"),
            ("otpauth://\(seed)/x?secret=\(seed)", "unknown otpauth type"),
            ("otpauth://totp/x?secret=\(seed)&algorithm=\(seed)", "unknown algorithm"),
            ("otpauth://totp/x?secret=\(seed)&digits=\(seed)", "digits must be"),
            ("otpauth://totp/x?secret=\(seed)&period=\(seed)", "period must be"),
            ("otpauth://totp/\(seed):x?secret=\(seed)&issuer=B", "differs"),
            ("otpauth://totp/B:x?secret=\(seed)&issuer=\(seed)", "differs"),
        ]
        assertRefused(cases)
    }

    func testPlainDigitsAndEncodedSpacesAccepted() throws {
        let u = try OTPAuthURI(parsing: "otpauth://totp/ACME%20Co:alice?secret=JBSWY3DPEHPK3PXP&digits=08&period=060&issuer=ACME%20Co")
        XCTAssertEqual(u.parameters, try TOTPParameters(algorithm: .sha1, digits: 8, period: 60))
        XCTAssertEqual(u.account, "alice")
    }

    func testRefusals() {
        let cases: [(String, String)] = [
            ("otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP&counter=1", "hotp"),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=MD5", "algorithm"),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=5", "digits"),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=9", "digits"),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=six", "digits"),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=0", "period"),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=3601", "period"),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&image=https://x", "unknown otpauth parameter 'image'"),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&counter=3", "unknown otpauth parameter 'counter'"),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=6&digits=8", "twice"),
            ("otpauth://totp/x?issuer=A", "no secret"),
            ("otpauth://totp/x?secret=", "no secret"),
            ("otpauth://totp/x?secret=JBSW1Y3DP", "position 5"),
            ("otpauth://totp/A:x?secret=JBSWY3DPEHPK3PXP&issuer=B", "differs"),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&issuer=%zz", "percent"),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP#frag", "fragment"),
            ("otpauth://totp?secret=JBSWY3DPEHPK3PXP", "no label"),
            ("https://totp/x?secret=JBSWY3DPEHPK3PXP", "otpauth://"),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=+6", "digits must be"),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=%2B8", "digits must be"),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=-6", "digits must be"),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=", "digits must be"),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=+30", "period must be"),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=٣٠", "period must be"),
            ("otpauth://totp/?secret=JBSWY3DPEHPK3PXP", "empty account"),
            ("otpauth://totp/ACME:?secret=JBSWY3DPEHPK3PXP", "empty account"),
            ("otpauth://totp/ACME:%20?secret=JBSWY3DPEHPK3PXP", "empty account"),
            ("otpauth://totp/ACME Co:alice?secret=JBSWY3DPEHPK3PXP", "space at position 20: spaces in an otpauth URI must be written %20"),
            ("otpauth://totp/x?secret=JBSW Y3DP EHPK 3PXP", "must be written %20"),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&issuer=A\u{00A0}B", "must be written %20"),
        ]
        assertRefused(cases)
    }

    /// Each URI is refused with a message containing its fragment and no part of the seed
    /// (JBSWY3DPEHPK3PXP), in any case.
    private func assertRefused(_ cases: [(String, String)], file: StaticString = #filePath, line: UInt = #line) {
        for (uri, fragment) in cases {
            XCTAssertThrowsError(try OTPAuthURI(parsing: uri), uri, file: file, line: line) { error in
                let message = (error as! OTPAuthURI.Failure).description
                XCTAssertTrue(message.contains(fragment), "\(uri): \(message)", file: file, line: line)
                for part in ["jbswy3dp", "ehpk3pxp"] {
                    XCTAssertFalse(message.lowercased().contains(part), "the secret leaked: \(message)", file: file, line: line)
                }
            }
        }
    }
}
