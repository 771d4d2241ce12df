//! The elliptic curves the simulated card can compute on, with their explicit domain parameters.
//!
//! The real card never sees a curve OID: GENERATE ASYMMETRIC KEY PAIR carries the explicit
//! parameters (7F49 tags 81..85) and the card recognises the curve from them (PROTOCOL §4.7,
//! §12.1). Values are fixed-width big-endian, exactly as hosts put them into 7F49 and as the
//! card writes them into key blobs; names follow OpenSC (`secp256r1`, `brainpoolP256r1`, ...).
//!
//! Curves of PROTOCOL §12.1 the simulator LACKS (no RustCrypto arithmetic for them):
//! brainpoolP192r1, brainpoolP224r1, brainpoolP320r1, brainpoolP512r1, brainpoolP192t1,
//! brainpoolP224t1, brainpoolP320t1, brainpoolP512t1, secp192k1. A GAKP with their parameters
//! finds no match in [`by_params`], so the card answers as for any unsupported curve.
//!
//! NOTE: PROTOCOL §12.1 prints the secp521r1 order n with two extra `FF` bytes (67 bytes); the
//! value below is the SEC 2 / FIPS 186 one (66 bytes), checked against the p521 crate in tests.

/// One curve: OpenSC's name, the named-curve OID (content bytes, no `06` tag) and the domain
/// parameters at full field width (`g` uncompressed `04‖x‖y`).
#[derive(Debug, PartialEq, Eq)]
pub struct Curve {
    pub name: &'static str,
    pub oid: &'static [u8],
    pub p: &'static [u8],
    pub a: &'static [u8],
    pub b: &'static [u8],
    pub g: &'static [u8],
    pub n: &'static [u8],
    pub h: u8,
}

impl Curve {
    /// Bytes of a field element (66 for P-521): the width of every component in 7F49 and blobs.
    pub fn field_len(&self) -> usize {
        self.p.len()
    }

    /// Bit length of the prime (521 for P-521): the "EC field bits" PKCS#11 and OpenSC report.
    pub fn bits(&self) -> usize {
        bit_len(self.p)
    }

    /// Bit length of the group order, which bounds the ECDSA hash truncation.
    pub fn order_bits(&self) -> usize {
        bit_len(self.n)
    }
}

fn bit_len(be: &[u8]) -> usize {
    let be = strip_zeros(be);
    match be.first() {
        Some(first) => be.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

fn strip_zeros(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    &v[start..]
}

/// Every curve the simulator can compute on.
pub fn supported() -> &'static [Curve] {
    &CURVES
}

/// The curve named `name` (OpenSC spelling; `prime256v1`, `P-256` and friends are aliases).
pub fn by_name(name: &str) -> Option<&'static Curve> {
    let canonical = match name {
        "prime192v1" | "P-192" | "nistp192" => "secp192r1",
        "P-224" | "nistp224" => "secp224r1",
        "prime256v1" | "P-256" | "nistp256" => "secp256r1",
        "P-384" | "nistp384" => "secp384r1",
        "P-521" | "nistp521" => "secp521r1",
        other => other,
    };
    CURVES.iter().find(|c| c.name == canonical)
}

/// The curve with these OID content bytes (as in CKA_EC_PARAMS without the `06 len`).
pub fn by_oid(oid: &[u8]) -> Option<&'static Curve> {
    CURVES.iter().find(|c| c.oid == oid)
}

/// Identify a curve from the explicit domain parameters of GAKP (7F49 tags 81..85). Integers
/// are compared without leading zero bytes (a host may send minimal encodings; `a` of secp256k1
/// may then be empty); the generator may be `04‖x‖y` or `x‖y` with coordinates of any width up
/// to the field size.
pub fn by_params(p: &[u8], a: &[u8], b: &[u8], g: &[u8], n: &[u8]) -> Option<&'static Curve> {
    let same = |x: &[u8], y: &[u8]| strip_zeros(x) == strip_zeros(y);
    CURVES
        .iter()
        .find(|c| same(p, c.p) && same(a, c.a) && same(b, c.b) && same(n, c.n) && same_point(c, g))
}

/// Compare a possibly differently padded generator encoding with the curve's.
fn same_point(curve: &Curve, g: &[u8]) -> bool {
    let xy = match g.first() {
        Some(0x04) if g.len() % 2 == 1 => &g[1..],
        _ => g,
    };
    if xy.len() % 2 != 0 || xy.len() > 2 * curve.field_len() {
        return false;
    }
    let (x, y) = xy.split_at(xy.len() / 2);
    let (cx, cy) = curve.g[1..].split_at(curve.field_len());
    strip_zeros(x) == strip_zeros(cx) && strip_zeros(y) == strip_zeros(cy)
}

/// Decode a hex literal at compile time (the tables below stay readable and checkable against
/// PROTOCOL §12.1 by eye).
const fn unhex<const N: usize>(s: &str) -> [u8; N] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("bad hex digit in curve table"),
        }
    }
    let s = s.as_bytes();
    assert!(s.len() == 2 * N, "hex literal of the wrong length");
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = (nibble(s[2 * i]) << 4) | nibble(s[2 * i + 1]);
        i += 1;
    }
    out
}

macro_rules! hx {
    ($s:literal) => {{
        const BYTES: [u8; $s.len() / 2] = unhex::<{ $s.len() / 2 }>($s);
        &BYTES
    }};
}

static CURVES: [Curve; 10] = [
    Curve {
        name: "secp192r1",
        oid: hx!("2A8648CE3D030101"),
        p: hx!("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFFFFFFFFFF"),
        a: hx!("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFFFFFFFFFC"),
        b: hx!("64210519E59C80E70FA7E9AB72243049FEB8DEECC146B9B1"),
        g: hx!("04188DA80EB03090F67CBF20EB43A18800F4FF0AFD82FF101207192B95FFC8DA78631011ED6B24CDD573F977A11E794811"),
        n: hx!("FFFFFFFFFFFFFFFFFFFFFFFF99DEF836146BC9B1B4D22831"),
        h: 1,
    },
    Curve {
        name: "secp224r1",
        oid: hx!("2B81040021"),
        p: hx!("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF000000000000000000000001"),
        a: hx!("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFE"),
        b: hx!("B4050A850C04B3ABF54132565044B0B7D7BFD8BA270B39432355FFB4"),
        g: hx!("04B70E0CBD6BB4BF7F321390B94A03C1D356C21122343280D6115C1D21BD376388B5F723FB4C22DFE6CD4375A05A07476444D5819985007E34"),
        n: hx!("FFFFFFFFFFFFFFFFFFFFFFFFFFFF16A2E0B8F03E13DD29455C5C2A3D"),
        h: 1,
    },
    Curve {
        name: "secp256r1",
        oid: hx!("2A8648CE3D030107"),
        p: hx!("FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF"),
        a: hx!("FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC"),
        b: hx!("5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B"),
        g: hx!("046B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C2964FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5"),
        n: hx!("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551"),
        h: 1,
    },
    Curve {
        name: "secp384r1",
        oid: hx!("2B81040022"),
        p: hx!("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFF0000000000000000FFFFFFFF"),
        a: hx!("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFF0000000000000000FFFFFFFC"),
        b: hx!("B3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875AC656398D8A2ED19D2A85C8EDD3EC2AEF"),
        g: hx!("04AA87CA22BE8B05378EB1C71EF320AD746E1D3B628BA79B9859F741E082542A385502F25DBF55296C3A545E3872760AB73617DE4A96262C6F5D9E98BF9292DC29F8F41DBD289A147CE9DA3113B5F0B8C00A60B1CE1D7E819D7A431D7C90EA0E5F"),
        n: hx!("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973"),
        h: 1,
    },
    Curve {
        name: "secp521r1",
        oid: hx!("2B81040023"),
        p: hx!("01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"),
        a: hx!("01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC"),
        b: hx!("0051953EB9618E1C9A1F929A21A0B68540EEA2DA725B99B315F3B8B489918EF109E156193951EC7E937B1652C0BD3BB1BF073573DF883D2C34F1EF451FD46B503F00"),
        g: hx!("0400C6858E06B70404E9CD9E3ECB662395B4429C648139053FB521F828AF606B4D3DBAA14B5E77EFE75928FE1DC127A2FFA8DE3348B3C1856A429BF97E7E31C2E5BD66011839296A789A3BC0045C8A5FB42C7D1BD998F54449579B446817AFBD17273E662C97EE72995EF42640C550B9013FAD0761353C7086A272C24088BE94769FD16650"),
        n: hx!("01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409"),
        h: 1,
    },
    Curve {
        name: "secp256k1",
        oid: hx!("2B8104000A"),
        p: hx!("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F"),
        a: hx!("0000000000000000000000000000000000000000000000000000000000000000"),
        b: hx!("0000000000000000000000000000000000000000000000000000000000000007"),
        g: hx!("0479BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8"),
        n: hx!("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141"),
        h: 1,
    },
    Curve {
        name: "brainpoolP256r1",
        oid: hx!("2B2403030208010107"),
        p: hx!("A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377"),
        a: hx!("7D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9"),
        b: hx!("26DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B6"),
        g: hx!("048BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9ACE3262547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F046997"),
        n: hx!("A9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7"),
        h: 1,
    },
    Curve {
        name: "brainpoolP256t1",
        oid: hx!("2B2403030208010108"),
        p: hx!("A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377"),
        a: hx!("A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5374"),
        b: hx!("662C61C430D84EA4FE66A7733D0B76B7BF93EBC4AF2F49256AE58101FEE92B04"),
        g: hx!("04A3E8EB3CC1CFE7B7732213B23A656149AFA142C47AAFBC2B79A191562E1305F42D996C823439C56D7F7B22E14644417E69BCB6DE39D027001DABE8F35B25C9BE"),
        n: hx!("A9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7"),
        h: 1,
    },
    Curve {
        name: "brainpoolP384r1",
        oid: hx!("2B240303020801010B"),
        p: hx!("8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B412B1DA197FB71123ACD3A729901D1A71874700133107EC53"),
        a: hx!("7BC382C63D8C150C3C72080ACE05AFA0C2BEA28E4FB22787139165EFBA91F90F8AA5814A503AD4EB04A8C7DD22CE2826"),
        b: hx!("04A8C7DD22CE28268B39B55416F0447C2FB77DE107DCD2A62E880EA53EEB62D57CB4390295DBC9943AB78696FA504C11"),
        g: hx!("041D1C64F068CF45FFA2A63A81B7C13F6B8847A3E77EF14FE3DB7FCAFE0CBD10E8E826E03436D646AAEF87B2E247D4AF1E8ABE1D7520F9C2A45CB1EB8E95CFD55262B70B29FEEC5864E19C054FF99129280E4646217791811142820341263C5315"),
        n: hx!("8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B31F166E6CAC0425A7CF3AB6AF6B7FC3103B883202E9046565"),
        h: 1,
    },
    Curve {
        name: "brainpoolP384t1",
        oid: hx!("2B240303020801010C"),
        p: hx!("8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B412B1DA197FB71123ACD3A729901D1A71874700133107EC53"),
        a: hx!("8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B412B1DA197FB71123ACD3A729901D1A71874700133107EC50"),
        b: hx!("7F519EADA7BDA81BD826DBA647910F8C4B9346ED8CCDC64E4B1ABD11756DCE1D2074AA263B88805CED70355A33B471EE"),
        g: hx!("0418DE98B02DB9A306F2AFCD7235F72A819B80AB12EBD653172476FECD462AABFFC4FF191B946A5F54D8D0AA2F418808CC25AB056962D30651A114AFD2755AD336747F93475B7A1FCA3B88F2B6A208CCFE469408584DC2B2912675BF5B9E582928"),
        n: hx!("8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B31F166E6CAC0425A7CF3AB6AF6B7FC3103B883202E9046565"),
        h: 1,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::ec;
    use ecdsa::elliptic_curve::bigint::{BoxedUint, NonZero};

    fn uint(v: &[u8], bits: u32) -> BoxedUint {
        BoxedUint::from_be_slice(v, bits).unwrap()
    }

    #[test]
    fn table_matches_the_curve_equation_and_the_crates() {
        for c in supported() {
            let w = c.field_len();
            for v in [c.p, c.a, c.b, c.n] {
                assert_eq!(v.len(), w, "{}: every integer at field width", c.name);
            }
            assert_eq!((c.g.len(), c.g[0], c.h), (2 * w + 1, 4, 1), "{}", c.name);

            // y² = x³ + a·x + b (mod p) for the generator, with our p, a, b.
            let bits = (w as u32 * 8).div_ceil(64) * 64 * 2;
            let p = NonZero::new(uint(c.p, bits)).unwrap();
            let (x, y) = (uint(&c.g[1..=w], bits), uint(&c.g[w + 1..], bits));
            let (a, b) = (uint(c.a, bits), uint(c.b, bits));
            let lhs = y.mul_mod(&y, &p);
            let x3 = x.mul_mod(&x, &p).mul_mod(&x, &p);
            let rhs = x3.add_mod(&a.mul_mod(&x, &p), &p).add_mod(&b, &p);
            assert_eq!(lhs, rhs, "{}: G on the curve", c.name);

            // The crate's generator is ours: 1·G = G.
            assert_eq!(ec::public_point(c, &[1]).unwrap(), c.g, "{}", c.name);
            assert!(ec::is_on_curve(c, c.g));
            // The crate's order is ours: n is not a valid scalar, n−1 is and gives −G (same x).
            assert!(ec::public_point(c, c.n).is_err(), "{}", c.name);
            let mut n_minus_1 = c.n.to_vec();
            *n_minus_1.last_mut().unwrap() -= 1; // no curve order ends in a 00 byte
            let minus_g = ec::public_point(c, &n_minus_1).unwrap();
            assert_eq!(minus_g[..=w], c.g[..=w], "{}", c.name);
            assert_ne!(minus_g, c.g);
        }
    }

    #[test]
    fn names_bits_and_lookups() {
        let names: Vec<_> = supported().iter().map(|c| c.name).collect();
        for expected in [
            "secp256r1",
            "secp384r1",
            "secp521r1",
            "secp256k1",
            "brainpoolP256r1",
            "brainpoolP384r1",
        ] {
            assert!(names.contains(&expected), "{expected}");
        }
        assert_eq!(by_name("prime256v1").unwrap().name, "secp256r1");
        assert_eq!(by_name("secp521r1").unwrap().bits(), 521);
        assert_eq!(by_name("secp521r1").unwrap().field_len(), 66);
        assert_eq!(by_name("brainpoolP384r1").unwrap().bits(), 384);
        assert_eq!(
            by_name("secp256k1").unwrap().oid,
            [0x2B, 0x81, 0x04, 0x00, 0x0A]
        );
        assert_eq!(
            by_oid(&[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07])
                .unwrap()
                .name,
            "secp256r1"
        );
        assert!(by_name("brainpoolP512r1").is_none());
    }

    #[test]
    fn by_params_finds_full_width_and_minimal_encodings() {
        for c in supported() {
            assert_eq!(by_params(c.p, c.a, c.b, c.g, c.n).unwrap().name, c.name);
        }
        let k1 = by_name("secp256k1").unwrap();
        // Minimal: a empty, b = 07, G without 04.
        assert_eq!(
            by_params(k1.p, &[], &[7], &k1.g[1..], k1.n).unwrap().name,
            "secp256k1"
        );
        // Extra leading zeros.
        let p = [&[0u8][..], k1.p].concat();
        assert_eq!(
            by_params(&p, &[0], &[0, 0, 7], k1.g, k1.n).unwrap().name,
            "secp256k1"
        );
        // r1 and t1 share p and n but differ in a and b.
        let r1 = by_name("brainpoolP256r1").unwrap();
        let t1 = by_name("brainpoolP256t1").unwrap();
        assert_eq!(
            by_params(t1.p, t1.a, t1.b, t1.g, t1.n).unwrap().name,
            "brainpoolP256t1"
        );
        assert!(by_params(r1.p, t1.a, r1.b, r1.g, r1.n).is_none());
        // A wrong generator or a curve we lack.
        assert!(by_params(k1.p, k1.a, k1.b, r1.g, k1.n).is_none());
        assert!(by_params(&[0xFF; 64], &[], &[1], &[4, 1, 2], &[0xFF; 64]).is_none());
    }
}
