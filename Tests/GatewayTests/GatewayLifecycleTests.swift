import Foundation
import TestSupport
import XCTest

/// The gateway's process lifecycle (issue 10): signals handled before anything starts and
/// before READY=1, a stop at once after READY still graceful, one exit code per way out.
final class GatewayLifecycleTests: XCTestCase {
    /// Before READY=1 every thread but the signal thread blocks SIGTERM, SIGINT and SIGHUP, so
    /// none can be killed by a signal's default action; a SIGTERM sent the moment READY=1
    /// arrives drains and exits 0 (it used to race the installation of the handlers).
    func testSignalsAreHandledBeforeReadyAndATermRightAfterItDrains() throws {
        let dir = GatewayHarness.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let notify = try NotifySocket(path: dir + "/notify.sock")
        var env = GatewayHarness.baseEnvironment(dir: dir)
        env["NOTIFY_SOCKET"] = notify.path
        env["GATEWAY_DRAIN_SECONDS"] = "0.2"
        let gw = try TestProcess(executable: GatewayHarness.binary, arguments: ["--listen", "127.0.0.1:0"], environment: env, directory: dir)
        let ready = notify.collect(until: { $0 == "READY=1" }, timeout: 10)
        XCTAssertEqual(ready.last, "READY=1", gw.stderr)
        let pid = gw.process.processIdentifier
        XCTAssertEqual(ProcessSignals.threadsNotBlocking(pid: pid, [SIGTERM, SIGINT, SIGHUP], except: ["signals"]), [])
        XCTAssertTrue(ProcessSignals.threadNames(pid: pid).contains("http-loop-0"), "every thread is named: \(ProcessSignals.threadNames(pid: pid))")
        gw.signal(SIGTERM)
        XCTAssertEqual(notify.collect(until: { $0 == "STOPPING=1" }, timeout: 5).last, "STOPPING=1")
        XCTAssertEqual(gw.waitForExit(timeout: 15), 0, gw.stderr)
        let events = gw.logLines.compactMap { $0["event"] as? String }
        XCTAssertEqual(events.filter { ["listening", "draining", "closing_listener", "stopped"].contains($0) },
                       ["listening", "draining", "closing_listener", "stopped"])
    }

    /// A SIGHUP the moment READY=1 arrives reloads; it does not kill the gateway.
    func testAHangupRightAfterReadyReloads() throws {
        let dir = GatewayHarness.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let notify = try NotifySocket(path: dir + "/notify.sock")
        var env = GatewayHarness.baseEnvironment(dir: dir)
        env["NOTIFY_SOCKET"] = notify.path
        let gw = try TestProcess(executable: GatewayHarness.binary, arguments: ["--listen", "127.0.0.1:0"], environment: env, directory: dir)
        XCTAssertEqual(notify.collect(until: { $0 == "READY=1" }, timeout: 10).last, "READY=1", gw.stderr)
        gw.signal(SIGHUP)
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { gw.logLines.contains { $0["event"] as? String == "reloaded" } }, gw.stderr)
        XCTAssertTrue(gw.process.isRunning)
        gw.signal(SIGTERM)
        // Signals of one kind do not queue: the second is sent once the first was taken.
        XCTAssertEqual(notify.collect(until: { $0 == "STOPPING=1" }, timeout: 5).last, "STOPPING=1")
        gw.signal(SIGTERM)
        XCTAssertEqual(gw.waitForExit(timeout: 5), 1, "a second SIGTERM stops at once")
        XCTAssertTrue(gw.logLines.contains { $0["event"] as? String == "stopping_now" }, gw.stderr)
    }

    /// A port already taken: the start fails, exit 1, and the message says where it listened.
    func testAStartThatCannotListenExitsOne() throws {
        let dir = GatewayHarness.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let taken = try GatewayHarness(dir: dir)
        let second = TestProcess.run(GatewayHarness.binary, ["--listen", "127.0.0.1:\(taken.port)"],
            environment: GatewayHarness.baseEnvironment(dir: dir), timeout: 10)
        XCTAssertEqual(second.status, 1, second.stderr)
        XCTAssertTrue(second.stderr.contains("totp-gateway: cannot listen on 127.0.0.1:\(taken.port)"), second.stderr)
        XCTAssertTrue(second.stderr.contains("\"listen_failed\""), second.stderr)
    }
}
