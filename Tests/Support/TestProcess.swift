import Foundation

/// A real child process for integration tests (the gateway, the bot, the test Zulip, curl): stderr is captured
/// to a file, every wait is bounded, and `deinit` kills what is still running.
public final class TestProcess: @unchecked Sendable {
    // @unchecked: `process` is only touched from the test's thread; the file is append-only.
    public let process = Process()
    public let stderrPath: String
    public let stdoutPath: String

    /// Directory holding the built products (`.build/debug`): the test bundle runs from there.
    public static var productsDirectory: String {
        if let dir = ProcessInfo.processInfo.environment["TOTP_PRODUCTS_DIR"] { return dir }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // Linux xctest bundles are plain executables in the products directory.
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("totp-gateway").path), url.path != "/" {
            url = url.deletingLastPathComponent()
        }
        return url.path
    }

    /// `directory` holds the captured output; `workingDirectory` is the child's (default: ours);
    /// `standardInput` becomes the child's descriptor 0 (default: ours).
    public init(
        executable: String, arguments: [String] = [], environment: [String: String], directory: String,
        workingDirectory: String? = nil, standardInput: Int32? = nil
    ) throws {
        stderrPath = directory + "/stderr-\(UUID().uuidString.prefix(8)).log"
        stdoutPath = directory + "/stdout-\(UUID().uuidString.prefix(8)).log"
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
        var env = ["PATH": "/usr/bin:/bin"]
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        // The only descriptor a child can inherit besides its output (Process closes the rest),
        // e.g. a listening socket handed to HAProxy as `fd@0`.
        if let standardInput { process.standardInput = FileHandle(fileDescriptor: standardInput, closeOnDealloc: false) }
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }

    /// Parsed JSON log lines from stderr.
    public var logLines: [[String: Any]] {
        stderr.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }

    public func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for exit up to `timeout`; returns the exit status, or nil if still running.
    @discardableResult
    public func waitForExit(timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { return nil }
        return process.terminationStatus
    }

    /// Polls `condition` every 10 ms until it holds or `timeout` passes.
    public static func waitUntil(timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    /// Runs a command to completion (bounded) and returns status and output.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 30)
        -> (status: Int32, stdout: String, stderr: String)
    {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        var env = ["PATH": "/usr/bin:/bin"]
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch { return (-1, "", "\(error)") }
        // Read concurrently so a full pipe cannot block the child.
        nonisolated(unsafe) var outData = Data()
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        if group.wait(timeout: .now() + timeout) == .timedOut {
            p.terminate()
            group.wait()
        }
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }
}
