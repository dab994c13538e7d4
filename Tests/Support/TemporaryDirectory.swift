import Foundation

/// A fresh directory under the system temp directory, removed when released; for tests that
/// write config, seeds or credential files.
///
/// ```swift
/// let tmp = TemporaryDirectory(prefix: "seeds")
/// let path = tmp.write("seeds.txt", "demo = JBSWY3DPEHPK3PXP\n")
/// ```
public final class TemporaryDirectory {
    public let path: String

    public init(prefix: String) {
        path = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `text` to `name` inside the directory and returns the file's path.
    @discardableResult
    public func write(_ name: String, _ text: String) -> String {
        let file = path + "/" + name
        FileManager.default.createFile(atPath: file, contents: Data(text.utf8))
        return file
    }
}
