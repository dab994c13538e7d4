import Foundation
import TestSupport
import XCTest
@testable import Platform
@testable import Crypto
@testable import TOTP
@testable import Gateway

final class SeedLoaderTests: XCTestCase {
    let seedA = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  // 160 bits
    let seedB = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  // "12345678901234567890" (RFC seed)
    private var tmp: TemporaryDirectory!
    var dir: String { tmp.path }

    override func setUp() { tmp = TemporaryDirectory(prefix: "seeds") }
    override func tearDown() { tmp = nil }

    func write(_ name: String, _ text: String) -> String { tmp.write(name, text) }

    func load(_ env: [String: String]) throws -> SeedLoader.Result {
        try SeedLoader(environment: Environment(env)).load()
    }

    func problems(_ env: [String: String], file: StaticString = #filePath, line: UInt = #line) -> [ConfigProblem] {
        do {
            _ = try load(env)
            XCTFail("expected a configuration error", file: file, line: line)
            return []
        } catch let e as ConfigError {
            for p in e.problems {
                if let piece = SecretScan.leakedPiece(of: [seedA, seedB], in: p.description) {
                    XCTFail("seed piece '\(piece)' leaked into: \(p)", file: file, line: line)
                }
            }
            return e.problems
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
            return []
        }
    }

    func testEnvironmentVariableLabelMapping() throws {
        let r = try load(["TOTP_SEED_CLIENT_DEMO": seedB, "TOTP_SEED_Certus": "otpauth://totp/A:b?secret=\(seedA)&digits=8"])
        XCTAssertEqual(r.store.labels, ["certus", "client-demo"])
        let demo = try XCTUnwrap(r.store.entry(for: "Client-Demo"))
        XCTAssertEqual(demo.code(at: 59).code, "287082")  // RFC 4226 counter 1 == TOTP step 1, 6 digits
        XCTAssertEqual(r.store.entry(for: "certus")?.parameters.digits, 8)
        XCTAssertEqual(demo.source, .environment(variable: "TOTP_SEED_CLIENT_DEMO"))
    }

    func testOriginalLabelsFormatWithPeriodAndDigits() throws {
        let r = try load(["LABELS": "certus:\(seedA), github:\(seedB)", "TOTP_PERIOD": "60", "TOTP_DIGITS": "8"])
        XCTAssertEqual(r.store.labels, ["certus", "github"])
        XCTAssertEqual(r.store.entry(for: "github")?.parameters, try TOTPParameters(algorithm: .sha1, digits: 8, period: 60))
        let bad = problems(["LABELS": "certus:\(seedA)", "TOTP_DIGITS": "9"])
        XCTAssertEqual(bad.map(\.source), ["TOTP_DIGITS"])
        XCTAssertEqual(problems(["LABELS": "nocolon"]).first?.source, "LABELS entry 1")
    }

    func testSeedsFileWithCommentsAndSelfCheck() throws {
        // RFC 6238: SHA1, 8 digits, t=59 -> 94287082.
        let path = write("seeds", """
            # team seeds
            certus = \(seedA)

            rfc = otpauth://totp/RFC:test?secret=\(seedB)&digits=8  check=94287082@59

            """)
        let r = try load(["GATEWAY_SEEDS_FILE": path])
        XCTAssertEqual(r.store.labels, ["certus", "rfc"])
        XCTAssertEqual(r.store.entry(for: "rfc")?.source, .file(path: path, line: 4))
        XCTAssertEqual(r.store.entry(for: "rfc")?.code(at: 59).code, "94287082")
    }

    func testSelfCheckMismatchRefusesTheLabelAndNamesFileAndLine() {
        // Right code for 8 digits, but the URI says 6 digits: caught before anyone gets a wrong code.
        let path = write("seeds", "rfc = otpauth://totp/x?secret=\(seedB) check=94287082@59\nother = \(seedA) check=000000@59\n")
        let p = problems(["GATEWAY_SEEDS_FILE": path])
        XCTAssertEqual(p.count, 2)
        XCTAssertEqual(p[0].source, "\(path):1")
        XCTAssertEqual(p[0].label, "rfc")
        XCTAssertTrue(p[0].message.contains("8 digits but the seed is configured for 6"), p[0].message)
        XCTAssertEqual(p[1].source, "\(path):2")
        XCTAssertTrue(p[1].message.contains("self-check failed"), p[1].message)
        XCTAssertFalse(p[1].description.contains("000000"), "the check code is not echoed")
    }

    func testUnknownOptionAfterSeedRefusedByPositionWithoutEchoingIt() {
        let path = write("seeds", "x = \(seedA) digits=8\n")
        let p = problems(["GATEWAY_SEEDS_FILE": path])[0].message
        XCTAssertTrue(p.contains("position 41"), p)
        XCTAssertTrue(p.contains("only check=CODE@UNIXTIME may follow a seed"), p)
        XCTAssertFalse(p.contains("digits="), "a word taken from the value is not echoed: \(p)")
    }

    /// A trailing `x=y` word is not an option unless it starts with `check=`: its "name" may be
    /// the seed itself (audit finding: the seed came back lower-cased as an "unknown option").
    func testSeedShapedLikeAnOptionNeverEchoed() {
        let cases: [(String, String)] = [
            ("JBSWY3DP=EHPK3PXP", "padding '=' at position 9"),
            ("JBSWY3DPEHPK3PXP=x", "position 17"),  // '=' then a non-base32 'x' or padding error
            ("jbswy3dpehpk3pxp=x", "position 17"),
            ("JBSWY3DPEHPK3PXP=EHPK3PXP", "padding '=' at position 17"),
            ("\(seedA) \(seedB)=x", "padding '=' at position 66"),
            ("\(seedA) JBSWY3DP=EHPK3PXP check=123456@59", "padding '=' at position 42"),
            ("\(seedA) checkJBSWY3DP=x", "padding '=' at position 47"),
            ("otpauth://totp/x?secret=\(seedA) JBSWY3DP=x", "spaces in an otpauth URI must be written %20"),
        ]
        for (value, fragment) in cases {
            let p = problems(["TOTP_SEED_X": value])
            XCTAssertEqual(p.count, 1, value)
            XCTAssertTrue(p.first?.message.contains(fragment) == true, "\(value): \(p)")
            XCTAssertFalse(p.first?.message.contains("unknown option") == true, "\(p)")
        }
    }

    /// Positions count in the value as written, spaces and tabs included.
    func testInvalidCharacterPositionsCountExtraWhitespace() {
        let cases: [(String, Int)] = [
            ("   JB!SWY3DPEHPK3PXP", 6),
            ("JBSW  Y3!DPEHPK3PXP", 9),
            ("JBSW\t\tY3DP   EH!PK3PXP", 16),
            ("  JBSWY3DPEHPK3PX!  check=123456@59", 18),
            ("JBSWY3DP\u{00A0}\u{00A0}EH!PK3PXP", 13),
        ]
        for (value, position) in cases {
            let p = problems(["TOTP_SEED_X": value])
            XCTAssertTrue(p.first?.message.contains("at position \(position) ") == true, "\(value.debugDescription): \(p)")
        }
    }

    /// A URI pasted with a raw space used to be split into an "option" ('co:alice?secret').
    func testOTPAuthURIWithARawSpaceGetsTheHint() throws {
        let p = problems(["TOTP_SEED_X": "otpauth://totp/ACME Co:alice?secret=\(seedA)&issuer=ACME%20Co check=123456@59"])
        XCTAssertTrue(p.first?.message.contains("space at position 20: spaces in an otpauth URI must be written %20") == true, "\(p)")
        let ok = try load(["TOTP_SEED_X": "  otpauth://totp/ACME%20Co:alice?secret=\(seedB)&issuer=ACME%20Co\tcheck=287082@59 "])
        XCTAssertEqual(ok.store.entry(for: "x")?.issuer, "ACME Co")
    }

    func testCheckOptionFormat() {
        for bad in ["check=", "check=12@", "check=@5", "check=12@+5", "check=12@-5", "check=1a@5", "check=1@2@3"] {
            let p = problems(["TOTP_SEED_X": "\(seedA) \(bad)"])
            XCTAssertTrue(p.first?.message.contains("check= must be CODE@UNIXTIME") == true, "\(bad): \(p)")
        }
        XCTAssertTrue(problems(["TOTP_SEED_X": "\(seedA) check=1@2 CHECK=1@2"]).first?.message.contains("twice") == true)
        XCTAssertNoThrow(try load(["TOTP_SEED_X": "\(seedB)\tCheck=287082@59  "]))
        XCTAssertNoThrow(try load(["TOTP_SEED_X": "GEZD GNBV\u{00A0}GY3T QOJQ\u{202F}GEZDGNBVGY3TQOJQ\u{00A0}check=287082@59"]))
    }

    func testEmptySeedsRefusedEverywhere() {
        XCTAssertTrue(problems(["TOTP_SEED_X": ""])[0].message.contains("empty"))
        let path = write("seeds", "x =\n")
        XCTAssertTrue(problems(["GATEWAY_SEEDS_FILE": path])[0].message.contains("empty"))
        XCTAssertTrue(problems(["LABELS": "x:"])[0].message.contains("empty"))
        XCTAssertTrue(problems(["TOTP_SEED_X": "  -  "])[0].message.contains("empty"))
    }

    func testWeakSeedWarning() throws {
        let r = try load(["TOTP_SEED_SHORT": "JBSWY3DPEHPK3PXP"])  // 80 bits
        XCTAssertEqual(r.store.weakLabels, ["short"])
        XCTAssertEqual(r.warnings.count, 1)
        XCTAssertTrue(r.warnings[0].message.contains("80 bits"))
        XCTAssertTrue(try load(["TOTP_SEED_LONG": seedA]).warnings.isEmpty)
    }

    func testDuplicateAcrossSourcesNamesBoth() {
        let path = write("seeds", "certus = \(seedA)\n")
        let p = problems(["GATEWAY_SEEDS_FILE": path, "TOTP_SEED_CERTUS": seedB])
        XCTAssertEqual(p.count, 1)
        XCTAssertTrue(p[0].message.contains("environment variable TOTP_SEED_CERTUS"), p[0].message)
        XCTAssertTrue(p[0].message.contains("\(path):1"), p[0].message)
    }

    func testFileVariantsAndBothSet() throws {
        let secretPath = write("secret", seedA + "\n")
        let r = try load(["TOTP_SEED_VAULT_FILE": secretPath])
        XCTAssertEqual(r.store.labels, ["vault"])
        let p = problems(["TOTP_SEED_VAULT_FILE": secretPath, "TOTP_SEED_VAULT": seedB])
        XCTAssertTrue(p[0].message.contains("both TOTP_SEED_VAULT and TOTP_SEED_VAULT_FILE"), p[0].message)
        let missing = problems(["TOTP_SEED_GONE_FILE": dir + "/nope"])
        XCTAssertTrue(missing[0].message.contains("No such file"), missing[0].message)
        let labelsFile = write("labels", "a:\(seedA),b:\(seedB)")
        XCTAssertEqual(try load(["LABELS_FILE": labelsFile]).store.labels, ["a", "b"])
    }

    /// A seed, key or list put into a `*_FILE` variable is not echoed as a "path".
    func testSecretInAFileVariableIsNotEchoedAsAPath() {
        for (variable, value) in [("TOTP_SEED_BACKUP_FILE", seedA), ("TOTP_SEED_BACKUP_FILE", "otpauth://totp/x?secret=\(seedA)"),
            ("LABELS_FILE", "a:\(seedA)"), ("GATEWAY_SEEDS_FILE", "certus = \(seedA)"), ("GATEWAY_SEEDS_FILE", "seeds.txt")]
        {
            let p = problems([variable: value])
            XCTAssertEqual(p.map(\.source), [variable], "\(variable)=\(value): \(p)")
            XCTAssertTrue(p.first?.message.contains("\(variable) does not name a readable file (it must be a path") == true, "\(p)")
            XCTAssertTrue(p.first?.message.contains("No such file or directory") == true, "\(p)")
            XCTAssertFalse(p.first?.description.contains("seeds.txt") == true, "\(p)")
        }
        // A value that looks like a path is shown, since the operator needs it.
        for path in ["/nonexistent/seed", "./nonexistent-seed", "../nonexistent-seed"] {
            let p = problems(["TOTP_SEED_BACKUP_FILE": path])
            XCTAssertEqual(p.first?.message, "\(path): cannot open: No such file or directory", "\(p)")
        }
        // A variable that is not secret names its file whatever it looks like.
        XCTAssertThrowsError(try Environment(["GATEWAY_LISTEN_FILE": "listen.txt"]).value("GATEWAY_LISTEN", secret: false)) {
            XCTAssertEqual("\($0)", "GATEWAY_LISTEN_FILE: listen.txt: cannot open: No such file or directory")
        }
    }

    /// `TOTP_SEED_<LABEL>_FILE` is always the file variant, so a label from the environment cannot
    /// end in -file: `TOTP_SEED_X_FILE_FILE` is refused rather than quietly defining "x-file".
    func testEnvironmentLabelsCannotEndInFile() {
        let path = write("secret", seedA)
        let p = problems(["TOTP_SEED_BACKUP_FILE_FILE": path, "TOTP_SEED_notes_file": seedB])
        XCTAssertEqual(p.map(\.source), ["TOTP_SEED_BACKUP_FILE_FILE", "TOTP_SEED_notes_file"])
        XCTAssertTrue(p.allSatisfy { $0.message.contains("cannot end in -file") }, "\(p)")
    }

    func testInvalidBase32NamesLabelAndPosition() {
        let p = problems(["TOTP_SEED_BAD": "JBSW1Y3DPEHPK3PXP"])
        XCTAssertEqual(p[0].label, "bad")
        XCTAssertTrue(p[0].description.contains("position 5"), p[0].description)
        XCTAssertTrue(p[0].description.contains("TOTP_SEED_BAD"), p[0].description)
    }

    func testInvalidLabels() {
        XCTAssertTrue(problems(["TOTP_SEED__X": seedA])[0].message.contains("must start with"))
        let path = write("seeds", "bad label = \(seedA)\nok = \(seedA)\nno equals here\n")
        let p = problems(["GATEWAY_SEEDS_FILE": path])
        XCTAssertEqual(p.map(\.source), ["\(path):1", "\(path):3"])
        XCTAssertThrowsError(try SeedLabel(String(repeating: "a", count: 64)))
        XCTAssertEqual(try SeedLabel("A.b_c-9").value, "a.b_c-9")
    }

    /// With a mistyped separator the "label" is the seed: refusals give position and length only.
    func testLabelErrorsNeverEchoTheLabelText() throws {
        let path = write("seeds", "certus \(seedA)PX==\n\(seedB)\(seedB) = \(seedA)\n")
        let p = problems(["GATEWAY_SEEDS_FILE": path])
        XCTAssertEqual(p.map(\.source), ["\(path):1", "\(path):2"])
        XCTAssertTrue(p[0].message.contains("invalid character at position 7 of 41"), p[0].message)
        XCTAssertTrue(p[0].message.contains("a line is 'label = seed'"), p[0].message)
        XCTAssertTrue(p[1].message.contains("is 64 characters long"), p[1].message)
        let list = problems(["LABELS": "certus JBSWY3DPEHPK3PXP:x, \(seedB)é:\(seedA)"])
        XCTAssertEqual(list.map(\.source), ["LABELS entry 1", "LABELS entry 2"])
        XCTAssertTrue(list[0].message.contains("position 7 of 23"), list[0].message)
        XCTAssertTrue(list[0].message.contains("entries are label:seed"), list[0].message)
        XCTAssertTrue(list[1].message.contains("position 33 of 33"), list[1].message)
        XCTAssertTrue(problems(["LABELS": "-\(seedA):x"])[0].message.contains("must start with a letter or digit"))
        for bad in ["a\u{10}b", "a b", "a/b", "é", "a@b", "A[B"] {
            XCTAssertThrowsError(try SeedLabel(bad), bad.debugDescription)
        }
    }

    /// A syntax error on one line does not hide the seed errors of the others.
    func testSeedsFileReportsEveryLineAtOnce() {
        let path = write("seeds", "no equals here\nbad = JBSW1Y3DP\n-x = \(seedA)\ngood = \(seedA)\nempty =\nself = \(seedA) check=000000@59\n")
        let p = problems(["GATEWAY_SEEDS_FILE": path])
        XCTAssertEqual(p.map(\.source), [1, 3, 2, 5, 6].map { "\(path):\($0)" }, "\(p)")
        XCTAssertEqual(p.map(\.label), [nil, nil, "bad", "empty", "self"])
    }

    func testSystemdCredentials() throws {
        let creds = dir + "/creds"
        try FileManager.default.createDirectory(atPath: creds, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: creds + "/totp-seed-github", contents: Data((seedA + "\n").utf8))
        FileManager.default.createFile(atPath: creds + "/seeds", contents: Data("certus = \(seedB)\n".utf8))
        FileManager.default.createFile(atPath: creds + "/tokens", contents: Data("ignored by the seed loader".utf8))
        let r = try load(["CREDENTIALS_DIRECTORY": creds])
        XCTAssertEqual(r.store.labels, ["certus", "github"])
        XCTAssertEqual(r.store.entry(for: "github")?.source, .credential(directory: creds, name: "totp-seed-github"))
    }

    func testFingerprintCoversParametersNotSeeds() throws {
        let a = try load(["TOTP_SEED_X": seedA]).store.fingerprint
        let b = try load(["TOTP_SEED_X": seedB]).store.fingerprint
        let c = try load(["TOTP_SEED_X": seedA, "TOTP_DIGITS": "8"]).store.fingerprint
        XCTAssertEqual(a, b, "changing only the seed keeps the fingerprint")
        XCTAssertNotEqual(a, c)
        XCTAssertTrue(a.hasPrefix("sha256:"))
        XCTAssertEqual(a.count, 7 + 64)
    }

    func testErrorsListEveryProblem() {
        let p = problems(["TOTP_SEED_A": "", "TOTP_SEED_B": "1", "TOTP_PERIOD": "0"])
        XCTAssertEqual(p.count, 3)
    }
}

/// Key files are written 0600: a key others can read is refused (FilePermissions).
final class SealedSeedsFileTests: XCTestCase {
    let key = Crypto.randomBytes(32)
    let lines = [
        SeedsFile.Line(label: "certus", value: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", line: 1),
        SeedsFile.Line(label: "rfc", value: "otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8 check=94287082@59", line: 2),
    ]

    func testRoundTrip() throws {
        let text = try SealedSeedsFile.seal(lines, kek: key)
        XCTAssertTrue(SealedSeedsFile.isSealed(text))
        XCTAssertFalse(text.contains("JBSWY3DP"), "seeds are not readable in the sealed file")
        let opened = try SealedSeedsFile.open(text, path: "f", kek: key)
        XCTAssertEqual(opened.map(\.label), ["certus", "rfc"])
        XCTAssertEqual(opened.map(\.value), lines.map(\.value))
    }

    func testTamperingIsRefused() throws {
        let text = try SealedSeedsFile.seal(lines, kek: key)
        var rows = text.split(separator: "\n").map(String.init)
        func refused(_ modified: [String], _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try SealedSeedsFile.open(modified.joined(separator: "\n"), path: "f", kek: key), file: file, line: line) {
                let message = "\($0)"
                XCTAssertTrue(message.contains(fragment), message, file: file, line: line)
            }
        }
        // Renamed label (AAD mismatch).
        var renamed = rows
        renamed[2] = renamed[2].replacingOccurrences(of: "certus ", with: "github ")
        refused(renamed, "f:3: label 'github': entry does not authenticate")
        // Reordered entries.
        var swapped = rows
        swapped.swapAt(2, 3)
        refused(swapped, "does not authenticate")
        // Dropped entry with the header left alone.
        refused(Array(rows.prefix(3)), "truncated or modified")
        // Flipped ciphertext bit.
        var flipped = rows
        var chars = Array(flipped[3])
        let i = chars.count - 10
        chars[i] = chars[i] == "A" ? "B" : "A"
        flipped[3] = String(chars)
        refused(flipped, "f:4: label 'rfc'")
        // Wrong key.
        XCTAssertThrowsError(try SealedSeedsFile.open(text, path: "f", kek: Crypto.randomBytes(32))) {
            XCTAssertTrue("\($0)".contains("wrong key file"))
        }
        // Unknown version.
        rows[0] = "totp-sealed-seeds v9 entries=2"
        refused(rows, "upgrade")
    }

    func testKeyFileFormats() throws {
        let dir = NSTemporaryDirectory() + "key-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Random bytes that happen to be all text would be refused; make sure this one is not.
        var raw = key
        raw[0] = 0x00
        FileManager.default.createFile(atPath: dir + "/hex", contents: Data((Crypto.hex(key) + "\n").utf8), attributes: [.posixPermissions: 0o600])
        FileManager.default.createFile(atPath: dir + "/b64", contents: Data(Base64.encode(key).utf8), attributes: [.posixPermissions: 0o600])
        FileManager.default.createFile(atPath: dir + "/raw", contents: Data(raw), attributes: [.posixPermissions: 0o600])
        FileManager.default.createFile(atPath: dir + "/short", contents: Data("abcd".utf8), attributes: [.posixPermissions: 0o600])
        XCTAssertEqual(try SealedSeedsFile.readKey(path: dir + "/hex", source: "K"), key)
        XCTAssertEqual(try SealedSeedsFile.readKey(path: dir + "/b64", source: "K"), key)
        XCTAssertEqual(try SealedSeedsFile.readKey(path: dir + "/raw", source: "K"), raw)
        XCTAssertThrowsError(try SealedSeedsFile.readKey(path: dir + "/short", source: "GATEWAY_SEEDS_KEY_FILE")) {
            XCTAssertEqual(($0 as? ConfigProblem)?.source, "GATEWAY_SEEDS_KEY_FILE")
            XCTAssertTrue("\($0)".contains("64 hex characters, base64 of 32 bytes, or 32 raw random bytes"), "\($0)")
            XCTAssertTrue("\($0)".contains("openssl rand -hex 32"))
        }
    }

    /// A 32-character passphrase is 32 bytes, but it is not a key: refused, not used as one.
    func testTextOf32BytesIsNotARawKey() throws {
        let dir = NSTemporaryDirectory() + "key-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, text) in [("passphrase", "correct horse battery staple 42!"), ("hex16", Crypto.hex(Crypto.randomBytes(16))),
            ("line", "correct horse battery staple 4\r\n")]
        {
            XCTAssertEqual(text.utf8.count, 32)
            FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
            XCTAssertThrowsError(try SealedSeedsFile.readKey(path: dir + "/" + name, source: "--key-file"), name) {
                XCTAssertEqual(($0 as? ConfigProblem)?.source, "--key-file")
                XCTAssertTrue("\($0)".contains("32 characters of text, not a key"), "\($0)")
                XCTAssertTrue("\($0)".contains("openssl rand -hex 32"), "\($0)")
                XCTAssertFalse("\($0)".contains("horse"), "the key file's content is not echoed")
            }
        }
    }

    /// Key-file problems name the variable or credential they came from, never the key.
    func testKeyFileProblemsNameTheirSource() throws {
        let dir = NSTemporaryDirectory() + "sealed-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: dir + "/seeds", contents: Data(try SealedSeedsFile.seal(lines, kek: key).utf8), attributes: [.posixPermissions: 0o600])
        func problems(_ env: [String: String]) -> [ConfigProblem] {
            do { _ = try SeedLoader(environment: Environment(env)).load() } catch { return error.problems }
            XCTFail("expected a refusal")
            return []
        }
        let missing = problems(["GATEWAY_SEEDS_FILE": dir + "/seeds", "GATEWAY_SEEDS_KEY_FILE": dir + "/nokey"])
        XCTAssertEqual(missing.map(\.description), ["GATEWAY_SEEDS_KEY_FILE: \(dir)/nokey: cannot open: No such file or directory"])
        let pasted = problems(["GATEWAY_SEEDS_FILE": dir + "/seeds", "GATEWAY_SEEDS_KEY_FILE": Crypto.hex(key)])
        XCTAssertEqual(pasted.map(\.source), ["GATEWAY_SEEDS_KEY_FILE"])
        XCTAssertFalse(pasted[0].description.contains(Crypto.hex(key).prefix(8)), "\(pasted)")
        let creds = dir + "/creds"
        try FileManager.default.createDirectory(atPath: creds, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: dir + "/seeds", toPath: creds + "/seeds")
        XCTAssertTrue(problems(["CREDENTIALS_DIRECTORY": creds])[0].description.contains("add its key as the seeds-key credential"))
        FileManager.default.createFile(atPath: creds + "/seeds-key", contents: Data("not a key".utf8))  // 0644: credentials are exempt from the mode check
        XCTAssertEqual(problems(["CREDENTIALS_DIRECTORY": creds]).map(\.source), ["credential seeds-key"])
        XCTAssertEqual(problems(["GATEWAY_SEEDS_FILE": dir + "/nothing"]).map(\.source), ["GATEWAY_SEEDS_FILE"])
    }

    func testLoaderOpensSealedFile() throws {
        let dir = NSTemporaryDirectory() + "sealed-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: dir + "/key", contents: Data(Crypto.hex(key).utf8), attributes: [.posixPermissions: 0o600])
        FileManager.default.createFile(atPath: dir + "/seeds", contents: Data(try SealedSeedsFile.seal(lines, kek: key).utf8), attributes: [.posixPermissions: 0o600])
        let r = try SeedLoader(environment: Environment(["GATEWAY_SEEDS_FILE": dir + "/seeds", "GATEWAY_SEEDS_KEY_FILE": dir + "/key"])).load()
        XCTAssertEqual(r.store.entry(for: "rfc")?.code(at: 59).code, "94287082")
        XCTAssertThrowsError(try SeedLoader(environment: Environment(["GATEWAY_SEEDS_FILE": dir + "/seeds"])).load()) {
            XCTAssertTrue("\($0)".contains("is sealed; set GATEWAY_SEEDS_KEY_FILE"))
        }
    }

    func testBase64() {
        for n in 0..<40 {
            let bytes = Crypto.randomBytes(n)
            XCTAssertEqual(Base64.decode(Base64.encode(bytes)), bytes)
            XCTAssertEqual(Base64.encode(bytes), Data(bytes).base64EncodedString())
        }
        XCTAssertNil(Base64.decode("AQ=D"))
        XCTAssertNil(Base64.decode("AQI"))
    }

    func testAESGCMDetectsWrongAAD() throws {
        let box = try AESGCM.seal([1, 2, 3], key: key, aad: [9])
        XCTAssertEqual(try AESGCM.open(box, key: key, aad: [9]), [1, 2, 3])
        XCTAssertThrowsError(try AESGCM.open(box, key: key, aad: [8]))
    }
}
