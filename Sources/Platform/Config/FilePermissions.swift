#if canImport(Glibc)
import Glibc
#endif

/// Permission checks for files that hold secrets, as OpenSSH checks a private key: key
/// material (a sealed-file key, the audit key, a tokens file) that group or others may read or
/// write is refused, with the `chmod` that fixes it; a plaintext seeds file readable by group or
/// others is only warned about (it works, but should be private or sealed).
///
/// Runtimes that set modes themselves are respected: files in `$CREDENTIALS_DIRECTORY`
/// (systemd credentials: a per-service directory only the service can enter) are not checked
/// at all (callers pass `exempt`), and files under `/run/secrets/` (docker and podman secrets,
/// often 0444 inside the container) are warned about instead of refused.
///
/// ```swift
/// if let finding = FilePermissions.keyFinding(path: "/etc/totp/seeds.key", mode: 0o644, what: "the seeds key") {
///     // .refuse("/etc/totp/seeds.key holds the seeds key and is readable ... chmod 600 /etc/totp/seeds.key")
/// }
/// ```
public enum FilePermissions {
    /// What to do about a file's mode.
    public enum Finding: Sendable, Equatable {
        case refuse(String)
        case warn(String)
    }

    /// Where docker and podman mount secrets; their mode comes from the runtime.
    public static let containerSecretsDirectory = "/run/secrets/"

    /// The permission bits of `path` (following links), or nil if it cannot be stat'ed.
    public static func mode(of path: String) -> UInt32? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return UInt32(st.st_mode) & 0o7777
    }

    /// A file holding key material (`what`, e.g. "the audit key"): group or others may access it.
    public static func keyFinding(path: String, mode: UInt32, what: String) -> Finding? {
        guard mode & 0o077 != 0 else { return nil }
        let octal = String(mode, radix: 8)
        if path.hasPrefix(containerSecretsDirectory) {
            return .warn("\(path) holds \(what) and is accessible to group or others (mode 0\(octal)); container secrets get their mode from the runtime: keep the host file private (chmod 600) and, where the runtime allows, give the secret mode 0400")
        }
        return .refuse("\(path) holds \(what) and is accessible to group or others (mode 0\(octal)), so it is refused as OpenSSH refuses such a private key; run: chmod 600 \(path)")
    }

    /// A plaintext seeds file: readable by group or others.
    public static func seedsFinding(path: String, mode: UInt32) -> Finding? {
        guard mode & 0o044 != 0 else { return nil }
        return .warn("\(path) holds plaintext seeds and is readable by group or others (mode 0\(String(mode, radix: 8))); run: chmod 600 \(path), or seal it (totp-gateway seal-seeds)")
    }

    /// Adds a finding about `source` to the problems (refuse) or the warnings (warn).
    public static func record(_ finding: Finding?, source: String, problems: inout [ConfigProblem], warnings: inout [ConfigProblem]) {
        switch finding {
        case .refuse(let message)?: problems.append(ConfigProblem(source: source, message: message))
        case .warn(let message)?: warnings.append(ConfigProblem(source: source, message: message))
        case nil: break
        }
    }
}
