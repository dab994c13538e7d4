import Platform

/// `totp-gateway seal-seeds IN OUT --key-file K`: validates a plain seeds file completely
/// (the same checks as loading it, self-checks included) and writes it envelope-encrypted.
///
/// ```sh
/// openssl rand -hex 32 > seeds.key
/// totp-gateway seal-seeds seeds.txt seeds.sealed --key-file seeds.key
/// ```
enum SealSeedsCommand {
    static func run(input: String, output: String, keyFile: String) throws(ConfigError) -> Int {
        let text: String
        do { text = try FileIO.readText(input) } catch {
            throw ConfigError([ConfigProblem(source: "seal-seeds IN", message: error.description)])
        }
        if SealedSeedsFile.isSealed(text) {
            throw ConfigError([ConfigProblem(source: input, message: "is already sealed")])
        }
        // Validate through the real loader so a file that seals is a file that loads.
        _ = try SeedLoader(environment: Environment(["GATEWAY_SEEDS_FILE": input])).load()
        let lines = try SeedsFile.parse(text, path: input)
        let kek: [UInt8]
        do { kek = try SealedSeedsFile.readKey(path: keyFile, source: "--key-file") } catch { throw ConfigError([error]) }
        let sealed: String
        do { sealed = try SealedSeedsFile.seal(lines, kek: kek) } catch {
            throw ConfigError([ConfigProblem(source: output, message: error.description)])
        }
        do { try FileIO.writeAtomically(output, bytes: Array(sealed.utf8), mode: 0o600) } catch {
            throw ConfigError([ConfigProblem(source: "seal-seeds OUT", message: error.description)])
        }
        return lines.count
    }
}
