import XCTest
@testable import Platform

/// The one command-line cursor both programs parse with.
final class CommandLineArgumentsTests: XCTestCase {
    func testOptionsTakeTheirValueEitherWayAndFlagsPassThrough() throws {
        var words = CommandLineArguments(["--listen", "127.0.0.1:1", "--listen=127.0.0.1:2", "--check-config", "--listen"])
        var seen: [String] = []
        while let word = words.next() {
            do {
                if let value = try words.option("--listen", in: word, missing: "--listen needs HOST:PORT") {
                    seen.append("listen " + value)
                } else {
                    seen.append(word)
                }
            } catch {
                seen.append("error: \(error)")
            }
        }
        XCTAssertEqual(seen, ["listen 127.0.0.1:1", "listen 127.0.0.1:2", "--check-config", "error: --listen needs HOST:PORT"])
        var other = CommandLineArguments(["--listener"])
        XCTAssertNil(try other.option("--listen", in: other.next()!, missing: ""), "a longer name is another word")
    }
}
