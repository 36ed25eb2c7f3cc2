import Foundation
import Testing

@testable import BatonEngine

/// The worker's memory of its direct claims: what lets it drop their `stage.ready` unasked.
@Suite("Direct claims")
struct DirectClaimsTests {
    @Test("A claim is remembered until its stage.ready arrives, once; past the capacity the oldest are forgotten")
    func rememberedOnceAndBounded() {
        let claims = DirectClaims(capacity: 3)
        let ids = (0..<5).map { _ in UUID() }
        claims.insert(ids[0])
        #expect(claims.remove(ids[0]))
        #expect(!claims.remove(ids[0]), "a second stage.ready of the same attempt asks the database")
        #expect(!claims.remove(ids[1]), "never claimed here")
        for id in ids { claims.insert(id) }
        // Capacity 3: ids[0] and ids[1] were forgotten; the last three are remembered.
        #expect(!claims.remove(ids[0]) && !claims.remove(ids[1]))
        #expect(claims.remove(ids[2]) && claims.remove(ids[3]) && claims.remove(ids[4]))
    }
}
