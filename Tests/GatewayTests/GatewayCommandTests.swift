import XCTest
@testable import Gateway

/// The command line of `totp-gateway`.
final class GatewayCommandTests: XCTestCase {
    func testCommands() throws {
        XCTAssertEqual(try GatewayCommand.parse([]), .serve(listen: nil))
        XCTAssertEqual(try GatewayCommand.parse(["--listen", "127.0.0.1:9000"]), .serve(listen: "127.0.0.1:9000"))
        XCTAssertEqual(try GatewayCommand.parse(["--check-config", "--listen=[::1]:1"]), .checkConfig(listen: "[::1]:1"))
        XCTAssertEqual(try GatewayCommand.parse(["--healthcheck", "http://x/healthz"]), .healthcheck(url: "http://x/healthz"))
        XCTAssertEqual(try GatewayCommand.parse(["seal-seeds", "in", "out", "--key-file=k"]), .sealSeeds(input: "in", output: "out", keyFile: "k"))
        XCTAssertEqual(try GatewayCommand.parse(["--version"]), .version)
        XCTAssertThrowsError(try GatewayCommand.parse(["--listen"])) { XCTAssertEqual("\($0)", "--listen needs HOST:PORT") }
        XCTAssertThrowsError(try GatewayCommand.parse(["--bogus"])) { XCTAssertEqual("\($0)", "unknown argument '--bogus'; see totp-gateway --help") }
        XCTAssertThrowsError(try GatewayCommand.parse(["seal-seeds", "in", "--key-file", "k"])) {
            XCTAssertEqual("\($0)", "usage: totp-gateway seal-seeds IN OUT --key-file KEY")
        }
    }
}
