import Foundation
import XCTest
@testable import Platform

/// `FileIO`: errors carry errno, atomic writes replace the file and sync its directory.
final class FileIOTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "fileio-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func testFailuresCarryErrnoNotJustText() throws {
        XCTAssertThrowsError(try FileIO.read(dir + "/missing")) { error in
            XCTAssertEqual((error as? FileIO.Failure)?.errorNumber, ENOENT)
        }
        try "x".write(toFile: dir + "/file", atomically: false, encoding: .utf8)
        XCTAssertThrowsError(try FileIO.read(dir + "/file/below")) { error in
            XCTAssertEqual((error as? FileIO.Failure)?.errorNumber, ENOTDIR)
        }
        XCTAssertThrowsError(try FileIO.read(dir)) { error in
            XCTAssertEqual((error as? FileIO.Failure)?.errorNumber, 0, "a directory is refused by our own check")
        }
    }

    func testAtomicWriteReplacesTheFileAndSyncsItsDirectory() throws {
        let path = dir + "/state.json"
        try FileIO.writeAtomically(path, bytes: Array("one".utf8))
        try FileIO.writeAtomically(path, bytes: Array("two".utf8))
        XCTAssertEqual(try FileIO.readText(path), "two")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["state.json"], "no temp file left behind")
        try FileIO.syncDirectory(of: path)
        try FileIO.syncDirectory(of: "relative-name")
        XCTAssertThrowsError(try FileIO.syncDirectory(of: dir + "/gone/state.json")) { error in
            XCTAssertEqual((error as? FileIO.Failure)?.errorNumber, ENOENT)
        }
        XCTAssertThrowsError(try FileIO.writeAtomically(dir + "/gone/state.json", bytes: [1])) { error in
            XCTAssertEqual((error as? FileIO.Failure)?.errorNumber, ENOENT)
        }
    }
}
