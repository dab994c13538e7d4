/// ASCII-only character classes: `isNumber` alone also accepts other scripts' digits and
/// fractions such as "½", which `Int(_:)` would then refuse or, with a sign, misread.
///
/// ```swift
/// "2026".allSatisfy(\.isASCIIDigit)   // true
/// "+6".allSatisfy(\.isASCIIDigit)     // false
/// ```
extension Character {
    public var isASCIIDigit: Bool { isASCII && isNumber }
}
