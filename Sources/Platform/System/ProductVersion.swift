/// The version both programs report (`--version`, `--help`, the `starting` log line,
/// `gateway_build_info`, the bot's User-Agent): they ship together.
///
/// ```swift
/// print("totp-gateway \(ProductVersion.current)")
/// ```
public enum ProductVersion {
    public static let current = "1.0.0"
}
