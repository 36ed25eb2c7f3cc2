import Foundation

/// Splits a SQL script into statements, respecting quotes, dollar quotes and comments.
///
/// PostgreSQL's extended protocol runs one statement at a time, so a migration file is
/// sent statement by statement (inside one transaction).
enum SQLScript {
    static func statements(_ script: String) -> [String] {
        var statements: [String] = []
        var current = ""
        let characters = Array(script)
        var index = 0
        func peek(_ offset: Int) -> Character? {
            index + offset < characters.count ? characters[index + offset] : nil
        }
        while index < characters.count {
            let character = characters[index]
            if character == "-", peek(1) == "-" {
                while index < characters.count, characters[index] != "\n" { index += 1 }
                continue
            }
            if character == "/", peek(1) == "*" {
                index += 2
                while index < characters.count, !(characters[index] == "*" && peek(1) == "/") { index += 1 }
                index += 2
                continue
            }
            if character == "'" || character == "\"" {
                current.append(character)
                index += 1
                while index < characters.count {
                    current.append(characters[index])
                    index += 1
                    if characters[index - 1] == character { break }
                }
                continue
            }
            if character == "$", let tagEnd = dollarTagEnd(characters, from: index) {
                let tag = String(characters[index...tagEnd])
                current += tag
                index = tagEnd + 1
                while index < characters.count {
                    if characters[index] == "$", index + tag.count <= characters.count,
                        String(characters[index..<index + tag.count]) == tag
                    {
                        current += tag
                        index += tag.count
                        break
                    }
                    current.append(characters[index])
                    index += 1
                }
                continue
            }
            if character == ";" {
                appendStatement(current, to: &statements)
                current = ""
            } else {
                current.append(character)
            }
            index += 1
        }
        appendStatement(current, to: &statements)
        return statements
    }

    private static func appendStatement(_ text: String, to statements: inout [String]) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if !trimmed.isEmpty { statements.append(trimmed) }
    }

    /// The index of the closing `$` of a dollar-quote tag starting at `start`, if it is one.
    private static func dollarTagEnd(_ characters: [Character], from start: Int) -> Int? {
        var index = start + 1
        while index < characters.count {
            let character = characters[index]
            if character == "$" { return index }
            guard character.isLetter || character == "_" || (character.isNumber && index > start + 1) else {
                return nil
            }
            index += 1
        }
        return nil
    }
}
