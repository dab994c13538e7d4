// swift-tools-version:6.0
// TOTP Gateway: no Swift package dependencies by design. C libraries come from Debian
// (libcurl4-openssl-dev, libssl-dev) through systemLibrary targets; variadic C functions
// (curl_easy_setopt/getinfo) are reached through the typed shims in CShims.
import PackageDescription

let package = Package(
    name: "totp-gateway",
    products: [
        .executable(name: "totp-gateway", targets: ["Gateway"]),
        .executable(name: "totp-bot", targets: ["Bot"]),
    ],
    // Each target is one folder under Sources/; a target may import only the ones listed as its
    // dependencies, so the direction below is the architecture (docs/ARCHITECTURE.md):
    //   C libraries  <-  Platform  <-  HTTPServer (+ TLS), CurlHTTP  <-  Etcd  <-  Bot
    //   CCrypto  <-  Crypto  <-  TOTP (+ TextSupport)  <-  Gateway, Bot
    targets: [
        // libcurl headers and link flags (the curl client is the only Swift code that uses it).
        .systemLibrary(
            name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),
        // libcrypto: HMAC for TOTP, AES-256-GCM for sealed seed files, RAND_bytes, CRYPTO_memcmp.
        .systemLibrary(
            name: "CCrypto", path: "Sources/CCrypto", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]),
        // libssl: the gateway's TLS listener. The header's inline ctls_ wrappers reach the
        // OpenSSL calls that are macros; only the TLS target imports it.
        .systemLibrary(
            name: "CTLS", path: "Sources/CTLS", pkgConfig: "libssl",
            providers: [.apt(["libssl-dev"])]),
        // Linux headers Glibc does not expose to Swift: epoll, eventfd, timerfd, adjtimex.
        .systemLibrary(name: "CSystem", path: "Sources/CSystem"),
        // Typed one-line wrappers over curl's variadic functions.
        .target(name: "CShims", dependencies: ["CCurl"], path: "Sources/CShims"),
        // Foundation-free text helpers (ASCII character classes, trimming), shared by the pure
        // TOTP core and the programs.
        .target(name: "TextSupport", path: "Sources/TextSupport"),
        // What every program here stands on: system calls and files, sockets, logging, metrics,
        // configuration. Knows nothing of HTTP, TOTP, the gateway or the bot.
        .target(name: "Platform", dependencies: ["CSystem", "TextSupport"], path: "Sources/Platform"),
        // The only libcrypto calls: HMAC, SHA-256, AES-256-GCM, random, constant-time compare.
        .target(name: "Crypto", dependencies: ["CCrypto"], path: "Sources/Crypto"),
        // HOTP/TOTP (RFC 4226/6238), Base32, otpauth URIs, label syntax. Pure: no I/O, time passed in.
        .target(name: "TOTP", dependencies: ["Crypto", "TextSupport"], path: "Sources/TOTP"),
        // The only libssl calls: a server TLS context (checked certificate and key) and
        // non-blocking sessions the event loops drive.
        .target(name: "TLS", dependencies: ["CTLS"], path: "Sources/TLS"),
        // The epoll HTTP/1.1 server (plain or TLS). Knows nothing of TOTP, the gateway or the bot.
        .target(name: "HTTPServer", dependencies: ["Platform", "CSystem", "TLS"], path: "Sources/HTTPServer"),
        // The only code that uses libcurl. A module of its own so the gateway, which never makes
        // HTTP requests, does not load libcurl and its dependencies (gnutls, krb5, ldap...) or
        // FoundationEssentials: about 3 MiB of resident memory.
        .target(name: "CurlHTTP", dependencies: ["Platform", "CShims", "CCurl"], path: "Sources/CurlHTTP"),
        // etcd's HTTP/JSON gateway client, leader election and fenced writes.
        .target(name: "Etcd", dependencies: ["Platform", "CurlHTTP"], path: "Sources/Etcd"),
        // totp-gateway: seeds, tokens, rate limits, audit, handlers, reload and drain.
        .executableTarget(
            name: "Gateway", dependencies: ["Platform", "TextSupport", "Crypto", "TOTP", "HTTPServer", "TLS"], path: "Sources/Gateway"),
        // totp-bot: Zulip client, leader election, chat commands, the gateway client, catch-up.
        .executableTarget(
            name: "Bot", dependencies: ["Platform", "TextSupport", "TOTP", "HTTPServer", "CurlHTTP", "Etcd"], path: "Sources/Bot"),
        // Helpers shared by the integration tests (real child processes with bounded waits).
        .target(name: "TestSupport", dependencies: ["Platform"], path: "Tests/Support"),
        .testTarget(name: "PlatformTests", dependencies: ["Platform", "TestSupport"], path: "Tests/PlatformTests"),
        .testTarget(name: "TOTPTests", dependencies: ["TOTP", "Crypto", "TestSupport"], path: "Tests/TOTPTests"),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "Platform", "TLS", "Crypto", "TestSupport"], path: "Tests/HTTPServerTests"),
        .testTarget(name: "CurlHTTPTests", dependencies: ["CurlHTTP", "Platform", "TestSupport"], path: "Tests/CurlHTTPTests"),
        .testTarget(
            name: "GatewayTests", dependencies: ["Gateway", "Platform", "Crypto", "TOTP", "HTTPServer", "TLS", "TestSupport"],
            path: "Tests/GatewayTests"),
        .testTarget(name: "EtcdTests", dependencies: ["Etcd", "Platform", "CurlHTTP", "TestSupport"], path: "Tests/EtcdTests"),
        .testTarget(
            name: "BotTests", dependencies: ["Bot", "Platform", "TOTP", "HTTPServer", "TLS", "CurlHTTP", "Etcd", "TestSupport"],
            path: "Tests/BotTests"),
    ],
    swiftLanguageModes: [.v6]
)
