import Glibc
import XCTest
@testable import Platform

/// A real AF_UNIX datagram socket standing in for systemd's notification socket. Addresses
/// are built here by hand, independently of the notifier, so a wrong address length (e.g. a
/// trailing NUL on an abstract name) cannot pass by being wrong twice.
private final class DatagramReceiver {
    let fd: Int32
    private var directory: String?

    /// Binds to `path` inside a fresh temporary directory.
    init(inTemporaryDirectoryNamed name: String) throws {
        var template = Array("/tmp/notify-test-XXXXXX".utf8CString)
        guard let dir = mkdtemp(&template) else { throw SystemError(call: "mkdtemp", errno: errno) }
        directory = String(cString: dir)
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try bind(bytes: Array((directory! + "/" + name).utf8) + [0])
    }

    /// Binds to an abstract-namespace name (no leading `@`).
    init(abstractName name: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try bind(bytes: [0] + Array(name.utf8))
    }

    var path: String { directory! }

    private func bind(bytes: [UInt8]) throws {
        XCTAssertGreaterThanOrEqual(fd, 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(2 + bytes.count)  // sun_family is 2 bytes on Linux
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) }
        }
        guard result == 0 else { throw SystemError(call: "bind", errno: errno) }
        // Every receive waits at most 5 s.
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The next datagram, or nil after the timeout.
    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }

    /// True when nothing is waiting.
    func isEmpty() -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_DONTWAIT) | Int32(MSG_PEEK)) < 0
    }

    deinit {
        close(fd)
        if let directory {
            FileManagerless.removeTree(directory)
        }
    }
}

/// Removes the test directory and its socket without Foundation.
private enum FileManagerless {
    static func removeTree(_ directory: String) {
        if let dir = opendir(directory) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." { unlink(directory + "/" + name) }
            }
            closedir(dir)
        }
        rmdir(directory)
    }
}

final class SystemdNotifierTests: XCTestCase {
    func testSendsExactDatagramsToPathSocket() throws {
        let receiver = try DatagramReceiver(inTemporaryDirectoryNamed: "notify")
        let socketPath = receiver.path + "/notify"
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socketPath])
        XCTAssertTrue(notifier.isEnabled)
        XCTAssertEqual(notifier.target, .path(socketPath))

        XCTAssertTrue(try notifier.ready())
        XCTAssertTrue(try notifier.status("serving on 127.0.0.1:8080\nsecond line"))
        XCTAssertTrue(try notifier.watchdog())
        XCTAssertTrue(try notifier.stopping())
        XCTAssertTrue(try notifier.notify("RELOADING=1\nMONOTONIC_USEC=5"))

        XCTAssertEqual(receiver.receive(), "READY=1")
        XCTAssertEqual(receiver.receive(), "STATUS=serving on 127.0.0.1:8080 second line")
        XCTAssertEqual(receiver.receive(), "WATCHDOG=1")
        XCTAssertEqual(receiver.receive(), "STOPPING=1")
        XCTAssertEqual(receiver.receive(), "RELOADING=1\nMONOTONIC_USEC=5")
        XCTAssertTrue(receiver.isEmpty())
    }

    func testSendsToAbstractNamespaceSocket() throws {
        let name = "totp-gateway-notify-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let receiver = try DatagramReceiver(abstractName: name)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "@" + name])
        XCTAssertEqual(notifier.target, .abstract(name))
        XCTAssertTrue(try notifier.ready())
        XCTAssertTrue(try notifier.watchdog())
        XCTAssertEqual(receiver.receive(), "READY=1")
        XCTAssertEqual(receiver.receive(), "WATCHDOG=1")
        XCTAssertTrue(receiver.isEmpty())
    }

    func testNoSocketMeansNoOp() throws {
        for environment in [[:], ["NOTIFY_SOCKET": ""]] {
            let notifier = SystemdNotifier(environment: environment)
            XCTAssertFalse(notifier.isEnabled)
            XCTAssertFalse(try notifier.ready())
            XCTAssertFalse(try notifier.watchdog())
            XCTAssertNil(notifier.watchdogInterval)
        }
    }

    func testMissingListenerIsReportedAsError() {
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent-dir-\(getpid())/notify"])
        XCTAssertThrowsError(try notifier.ready()) { error in
            XCTAssertTrue("\(error)".contains("sendto"), "\(error)")
        }
    }

    func testInvalidSocketValueIsReportedNotIgnored() {
        for value in ["relative/path", "@", "/" + String(repeating: "x", count: 200)] {
            let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": value])
            XCTAssertThrowsError(try notifier.ready(), value) { error in
                XCTAssertTrue("\(error)".contains("absolute path"), "\(error)")
            }
        }
    }

    func testWatchdogInterval() {
        let pid = getpid()
        let plain = SystemdNotifier(environment: ["WATCHDOG_USEC": "30000000"], pid: pid)
        XCTAssertEqual(plain.watchdogInterval, .seconds(30))
        XCTAssertEqual(plain.watchdogPingInterval, .seconds(15))

        let ours = SystemdNotifier(environment: ["WATCHDOG_USEC": "500000", "WATCHDOG_PID": "\(pid)"], pid: pid)
        XCTAssertEqual(ours.watchdogInterval, .milliseconds(500))

        let someoneElses = SystemdNotifier(environment: ["WATCHDOG_USEC": "500000", "WATCHDOG_PID": "\(pid + 1)"], pid: pid)
        XCTAssertNil(someoneElses.watchdogInterval)

        for bad in ["0", "-5", "abc", ""] {
            XCTAssertNil(SystemdNotifier(environment: ["WATCHDOG_USEC": bad]).watchdogInterval, bad)
        }
    }

    func testProcessEnvironmentIsRead() {
        let environment = SystemdNotifier.processEnvironment()
        XCTAssertEqual(environment["PATH"], getenv("PATH").map { String(cString: $0) })
    }
}
