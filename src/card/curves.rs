//! The EC curves the SmartCard-HSM knows (PROTOCOL.md §12.1).
//!
//! The card never sees a curve OID: GENERATE ASYMMETRIC KEY PAIR carries the explicit domain
//! parameters (7F49 tags 81 p, 82 a, 83 b, 84 G, 85 n, 87 cofactor), fixed-width big-endian.
//! This table maps between CKA_EC_PARAMS (named-curve OID) and those parameters, and identifies
//! the curve of a CV request or key blob from its parameters.

use super::tlv;

/// One named curve with its domain parameters (hex, fixed width = field size).
#[derive(Debug, PartialEq, Eq)]
pub struct Curve {
    pub name: &'static str,
    /// Dotted OID.
    pub oid: &'static str,
    /// OID content bytes (without the 06 tag and length), hex.
    pub oid_content: &'static str,
    /// Prime length in bytes: the width of p, a, b, n, d and of each coordinate.
    pub field_bytes: usize,
    /// Field size in bits (521 for secp521r1; the card's PRKD and blobs say 528, §9.3).
    pub field_bits: u16,
    p: &'static str,
    a: &'static str,
    b: &'static str,
    g: &'static str,
    n: &'static str,
}

impl Curve {
    pub fn prime(&self) -> Vec<u8> {
        unhex(self.p)
    }
    pub fn a(&self) -> Vec<u8> {
        unhex(self.a)
    }
    pub fn b(&self) -> Vec<u8> {
        unhex(self.b)
    }
    /// The base point, uncompressed `04‖x‖y`.
    pub fn generator(&self) -> Vec<u8> {
        unhex(self.g)
    }
    pub fn order(&self) -> Vec<u8> {
        unhex(self.n)
    }
    /// The cofactor of every curve here.
    pub fn cofactor(&self) -> u8 {
        1
    }
    pub fn oid_bytes(&self) -> Vec<u8> {
        unhex(self.oid_content)
    }

    /// CKA_EC_PARAMS: the DER named-curve OID `06 len content`.
    pub fn ec_params_der(&self) -> Vec<u8> {
        tlv::encode(0x06, &self.oid_bytes())
    }

    /// Length of an uncompressed point `04‖x‖y`.
    pub fn point_len(&self) -> usize {
        1 + 2 * self.field_bytes
    }

    /// Appends the explicit domain parameters as the card wants them inside 7F49:
    /// `81 p, 82 a, 83 b, 84 G, 85 n, 87 cofactor`.
    pub fn write_domain_parameters(&self, out: &mut Vec<u8>) {
        tlv::write(out, 0x81, &self.prime());
        tlv::write(out, 0x82, &self.a());
        tlv::write(out, 0x83, &self.b());
        tlv::write(out, 0x84, &self.generator());
        tlv::write(out, 0x85, &self.order());
        tlv::write(out, 0x87, &[self.cofactor()]);
    }

    /// The curve with this name (e.g. "secp256r1", "brainpoolP256r1"); also accepts the
    /// aliases prime256v1, P-256, P-384, P-521, P-224, prime192v1.
    pub fn by_name(name: &str) -> Option<&'static Curve> {
        let canonical = match name {
            "prime256v1" | "P-256" | "p256" => "secp256r1",
            "P-384" | "p384" => "secp384r1",
            "P-521" | "p521" => "secp521r1",
            "P-224" | "p224" => "secp224r1",
            "prime192v1" | "P-192" => "secp192r1",
            other => other,
        };
        CURVES.iter().find(|c| c.name == canonical)
    }

    /// The curve with this OID (content bytes).
    pub fn by_oid(oid_content: &[u8]) -> Option<&'static Curve> {
        CURVES.iter().find(|c| c.oid_bytes() == oid_content)
    }

    /// The curve named by CKA_EC_PARAMS (`06 len oid`). Explicit parameters and the
    /// implicitlyCA NULL are not supported here (no PKCS#11 host sends them for these tokens).
    pub fn by_ec_params(der: &[u8]) -> Option<&'static Curve> {
        let t = tlv::Tlv::parse_exact(der).ok()?;
        if t.tag != 0x06 {
            return None;
        }
        Curve::by_oid(t.value)
    }

    /// The curve whose prime, a and b equal these (compared as numbers, so the minimal-length
    /// integers pico-hsm writes match the card's fixed-width ones). Prime and order alone would
    /// not do: brainpool r1 and t1 curves share both.
    pub fn by_parameters(prime: &[u8], a: &[u8], b: &[u8]) -> Option<&'static Curve> {
        CURVES.iter().find(|c| {
            same_number(&c.prime(), prime) && same_number(&c.a(), a) && same_number(&c.b(), b)
        })
    }
}

/// Every curve of §12.1.
pub fn all() -> &'static [Curve] {
    CURVES
}

/// Left-pads a big-endian number to `width` bytes; `None` if it does not fit.
pub fn pad_to(value: &[u8], width: usize) -> Option<Vec<u8>> {
    let v = strip_zeros(value);
    if v.len() > width {
        return None;
    }
    let mut out = vec![0u8; width - v.len()];
    out.extend_from_slice(v);
    Some(out)
}

fn strip_zeros(v: &[u8]) -> &[u8] {
    let i = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    &v[i..]
}

fn same_number(x: &[u8], y: &[u8]) -> bool {
    strip_zeros(x) == strip_zeros(y)
}

/// Decodes the constant hex strings of the table (checked by the tests; odd input is ignored
/// rather than panicking).
fn unhex(s: &str) -> Vec<u8> {
    s.as_bytes()
        .chunks_exact(2)
        .filter_map(|p| {
            let hi = (p[0] as char).to_digit(16)?;
            let lo = (p[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

static CURVES: &[Curve] = &[
    Curve {
        name: "secp192r1",
        oid: "1.2.840.10045.3.1.1",
        oid_content: "2A8648CE3D030101",
        field_bytes: 24,
        field_bits: 192,
        p: "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFFFFFFFFFF",
        a: "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFFFFFFFFFC",
        b: "64210519E59C80E70FA7E9AB72243049FEB8DEECC146B9B1",
        g: "04188DA80EB03090F67CBF20EB43A18800F4FF0AFD82FF101207192B95FFC8DA78631011ED6B24CDD573F977A11E794811",
        n: "FFFFFFFFFFFFFFFFFFFFFFFF99DEF836146BC9B1B4D22831",
    },
    Curve {
        name: "secp224r1",
        oid: "1.3.132.0.33",
        oid_content: "2B81040021",
        field_bytes: 28,
        field_bits: 224,
        p: "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF000000000000000000000001",
        a: "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFE",
        b: "B4050A850C04B3ABF54132565044B0B7D7BFD8BA270B39432355FFB4",
        g: "04B70E0CBD6BB4BF7F321390B94A03C1D356C21122343280D6115C1D21BD376388B5F723FB4C22DFE6CD4375A05A07476444D5819985007E34",
        n: "FFFFFFFFFFFFFFFFFFFFFFFFFFFF16A2E0B8F03E13DD29455C5C2A3D",
    },
    Curve {
        name: "secp256r1",
        oid: "1.2.840.10045.3.1.7",
        oid_content: "2A8648CE3D030107",
        field_bytes: 32,
        field_bits: 256,
        p: "FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF",
        a: "FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC",
        b: "5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B",
        g: "046B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C2964FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5",
        n: "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551",
    },
    Curve {
        name: "secp384r1",
        oid: "1.3.132.0.34",
        oid_content: "2B81040022",
        field_bytes: 48,
        field_bits: 384,
        p: "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFF0000000000000000FFFFFFFF",
        a: "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFF0000000000000000FFFFFFFC",
        b: "B3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875AC656398D8A2ED19D2A85C8EDD3EC2AEF",
        g: "04AA87CA22BE8B05378EB1C71EF320AD746E1D3B628BA79B9859F741E082542A385502F25DBF55296C3A545E3872760AB73617DE4A96262C6F5D9E98BF9292DC29F8F41DBD289A147CE9DA3113B5F0B8C00A60B1CE1D7E819D7A431D7C90EA0E5F",
        n: "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
    },
    Curve {
        name: "secp521r1",
        oid: "1.3.132.0.35",
        oid_content: "2B81040023",
        field_bytes: 66,
        field_bits: 521,
        p: "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
        a: "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC",
        b: "0051953EB9618E1C9A1F929A21A0B68540EEA2DA725B99B315F3B8B489918EF109E156193951EC7E937B1652C0BD3BB1BF073573DF883D2C34F1EF451FD46B503F00",
        g: "0400C6858E06B70404E9CD9E3ECB662395B4429C648139053FB521F828AF606B4D3DBAA14B5E77EFE75928FE1DC127A2FFA8DE3348B3C1856A429BF97E7E31C2E5BD66011839296A789A3BC0045C8A5FB42C7D1BD998F54449579B446817AFBD17273E662C97EE72995EF42640C550B9013FAD0761353C7086A272C24088BE94769FD16650",
        n: "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
    },
    Curve {
        name: "brainpoolP192r1",
        oid: "1.3.36.3.3.2.8.1.1.3",
        oid_content: "2B2403030208010103",
        field_bytes: 24,
        field_bits: 192,
        p: "C302F41D932A36CDA7A3463093D18DB78FCE476DE1A86297",
        a: "6A91174076B1E0E19C39C031FE8685C1CAE040E5C69A28EF",
        b: "469A28EF7C28CCA3DC721D044F4496BCCA7EF4146FBF25C9",
        g: "04C0A0647EAAB6A48753B033C56CB0F0900A2F5C4853375FD614B690866ABD5BB88B5F4828C1490002E6773FA2FA299B8F",
        n: "C302F41D932A36CDA7A3462F9E9E916B5BE8F1029AC4ACC1",
    },
    Curve {
        name: "brainpoolP224r1",
        oid: "1.3.36.3.3.2.8.1.1.5",
        oid_content: "2B2403030208010105",
        field_bytes: 28,
        field_bits: 224,
        p: "D7C134AA264366862A18302575D1D787B09F075797DA89F57EC8C0FF",
        a: "68A5E62CA9CE6C1C299803A6C1530B514E182AD8B0042A59CAD29F43",
        b: "2580F63CCFE44138870713B1A92369E33E2135D266DBB372386C400B",
        g: "040D9029AD2C7E5CF4340823B2A87DC68C9E4CE3174C1E6EFDEE12C07D58AA56F772C0726F24C6B89E4ECDAC24354B9E99CAA3F6D3761402CD",
        n: "D7C134AA264366862A18302575D0FB98D116BC4B6DDEBCA3A5A7939F",
    },
    Curve {
        name: "brainpoolP256r1",
        oid: "1.3.36.3.3.2.8.1.1.7",
        oid_content: "2B2403030208010107",
        field_bytes: 32,
        field_bits: 256,
        p: "A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377",
        a: "7D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9",
        b: "26DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B6",
        g: "048BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9ACE3262547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F046997",
        n: "A9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7",
    },
    Curve {
        name: "brainpoolP320r1",
        oid: "1.3.36.3.3.2.8.1.1.9",
        oid_content: "2B2403030208010109",
        field_bytes: 40,
        field_bits: 320,
        p: "D35E472036BC4FB7E13C785ED201E065F98FCFA6F6F40DEF4F92B9EC7893EC28FCD412B1F1B32E27",
        a: "3EE30B568FBAB0F883CCEBD46D3F3BB8A2A73513F5EB79DA66190EB085FFA9F492F375A97D860EB4",
        b: "520883949DFDBC42D3AD198640688A6FE13F41349554B49ACC31DCCD884539816F5EB4AC8FB1F1A6",
        g: "0443BD7E9AFB53D8B85289BCC48EE5BFE6F20137D10A087EB6E7871E2A10A599C710AF8D0D39E2061114FDD05545EC1CC8AB4093247F77275E0743FFED117182EAA9C77877AAAC6AC7D35245D1692E8EE1",
        n: "D35E472036BC4FB7E13C785ED201E065F98FCFA5B68F12A32D482EC7EE8658E98691555B44C59311",
    },
    Curve {
        name: "brainpoolP384r1",
        oid: "1.3.36.3.3.2.8.1.1.11",
        oid_content: "2B240303020801010B",
        field_bytes: 48,
        field_bits: 384,
        p: "8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B412B1DA197FB71123ACD3A729901D1A71874700133107EC53",
        a: "7BC382C63D8C150C3C72080ACE05AFA0C2BEA28E4FB22787139165EFBA91F90F8AA5814A503AD4EB04A8C7DD22CE2826",
        b: "04A8C7DD22CE28268B39B55416F0447C2FB77DE107DCD2A62E880EA53EEB62D57CB4390295DBC9943AB78696FA504C11",
        g: "041D1C64F068CF45FFA2A63A81B7C13F6B8847A3E77EF14FE3DB7FCAFE0CBD10E8E826E03436D646AAEF87B2E247D4AF1E8ABE1D7520F9C2A45CB1EB8E95CFD55262B70B29FEEC5864E19C054FF99129280E4646217791811142820341263C5315",
        n: "8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B31F166E6CAC0425A7CF3AB6AF6B7FC3103B883202E9046565",
    },
    Curve {
        name: "brainpoolP512r1",
        oid: "1.3.36.3.3.2.8.1.1.13",
        oid_content: "2B240303020801010D",
        field_bytes: 64,
        field_bits: 512,
        p: "AADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA703308717D4D9B009BC66842AECDA12AE6A380E62881FF2F2D82C68528AA6056583A48F3",
        a: "7830A3318B603B89E2327145AC234CC594CBDD8D3DF91610A83441CAEA9863BC2DED5D5AA8253AA10A2EF1C98B9AC8B57F1117A72BF2C7B9E7C1AC4D77FC94CA",
        b: "3DF91610A83441CAEA9863BC2DED5D5AA8253AA10A2EF1C98B9AC8B57F1117A72BF2C7B9E7C1AC4D77FC94CADC083E67984050B75EBAE5DD2809BD638016F723",
        g: "0481AEE4BDD82ED9645A21322E9C4C6A9385ED9F70B5D916C1B43B62EEF4D0098EFF3B1F78E2D0D48D50D1687B93B97D5F7C6D5047406A5E688B352209BCB9F8227DDE385D566332ECC0EABFA9CF7822FDF209F70024A57B1AA000C55B881F8111B2DCDE494A5F485E5BCA4BD88A2763AED1CA2B2FA8F0540678CD1E0F3AD80892",
        n: "AADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA70330870553E5C414CA92619418661197FAC10471DB1D381085DDADDB58796829CA90069",
    },
    Curve {
        name: "brainpoolP192t1",
        oid: "1.3.36.3.3.2.8.1.1.4",
        oid_content: "2B2403030208010104",
        field_bytes: 24,
        field_bits: 192,
        p: "C302F41D932A36CDA7A3463093D18DB78FCE476DE1A86297",
        a: "C302F41D932A36CDA7A3463093D18DB78FCE476DE1A86294",
        b: "13D56FFAEC78681E68F9DEB43B35BEC2FB68542E27897B79",
        g: "043AE9E58C82F63C30282E1FE7BBF43FA72C446AF6F4618129097E2C5667C2223A902AB5CA449D0084B7E5B3DE7CCC01C9",
        n: "C302F41D932A36CDA7A3462F9E9E916B5BE8F1029AC4ACC1",
    },
    Curve {
        name: "brainpoolP224t1",
        oid: "1.3.36.3.3.2.8.1.1.6",
        oid_content: "2B2403030208010106",
        field_bytes: 28,
        field_bits: 224,
        p: "D7C134AA264366862A18302575D1D787B09F075797DA89F57EC8C0FF",
        a: "D7C134AA264366862A18302575D1D787B09F075797DA89F57EC8C0FC",
        b: "4B337D934104CD7BEF271BF60CED1ED20DA14C08B3BB64F18A60888D",
        g: "046AB1E344CE25FF3896424E7FFE14762ECB49F8928AC0C76029B4D5800374E9F5143E568CD23F3F4D7C0D4B1E41C8CC0D1C6ABD5F1A46DB4C",
        n: "D7C134AA264366862A18302575D0FB98D116BC4B6DDEBCA3A5A7939F",
    },
    Curve {
        name: "brainpoolP256t1",
        oid: "1.3.36.3.3.2.8.1.1.8",
        oid_content: "2B2403030208010108",
        field_bytes: 32,
        field_bits: 256,
        p: "A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377",
        a: "A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5374",
        b: "662C61C430D84EA4FE66A7733D0B76B7BF93EBC4AF2F49256AE58101FEE92B04",
        g: "04A3E8EB3CC1CFE7B7732213B23A656149AFA142C47AAFBC2B79A191562E1305F42D996C823439C56D7F7B22E14644417E69BCB6DE39D027001DABE8F35B25C9BE",
        n: "A9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7",
    },
    Curve {
        name: "brainpoolP320t1",
        oid: "1.3.36.3.3.2.8.1.1.10",
        oid_content: "2B240303020801010A",
        field_bytes: 40,
        field_bits: 320,
        p: "D35E472036BC4FB7E13C785ED201E065F98FCFA6F6F40DEF4F92B9EC7893EC28FCD412B1F1B32E27",
        a: "D35E472036BC4FB7E13C785ED201E065F98FCFA6F6F40DEF4F92B9EC7893EC28FCD412B1F1B32E24",
        b: "A7F561E038EB1ED560B3D147DB782013064C19F27ED27C6780AAF77FB8A547CEB5B4FEF422340353",
        g: "04925BE9FB01AFC6FB4D3E7D4990010F813408AB106C4F09CB7EE07868CC136FFF3357F624A21BED5263BA3A7A27483EBF6671DBEF7ABB30EBEE084E58A0B077AD42A5A0989D1EE71B1B9BC0455FB0D2C3",
        n: "D35E472036BC4FB7E13C785ED201E065F98FCFA5B68F12A32D482EC7EE8658E98691555B44C59311",
    },
    Curve {
        name: "brainpoolP384t1",
        oid: "1.3.36.3.3.2.8.1.1.12",
        oid_content: "2B240303020801010C",
        field_bytes: 48,
        field_bits: 384,
        p: "8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B412B1DA197FB71123ACD3A729901D1A71874700133107EC53",
        a: "8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B412B1DA197FB71123ACD3A729901D1A71874700133107EC50",
        b: "7F519EADA7BDA81BD826DBA647910F8C4B9346ED8CCDC64E4B1ABD11756DCE1D2074AA263B88805CED70355A33B471EE",
        g: "0418DE98B02DB9A306F2AFCD7235F72A819B80AB12EBD653172476FECD462AABFFC4FF191B946A5F54D8D0AA2F418808CC25AB056962D30651A114AFD2755AD336747F93475B7A1FCA3B88F2B6A208CCFE469408584DC2B2912675BF5B9E582928",
        n: "8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B31F166E6CAC0425A7CF3AB6AF6B7FC3103B883202E9046565",
    },
    Curve {
        name: "brainpoolP512t1",
        oid: "1.3.36.3.3.2.8.1.1.14",
        oid_content: "2B240303020801010E",
        field_bytes: 64,
        field_bits: 512,
        p: "AADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA703308717D4D9B009BC66842AECDA12AE6A380E62881FF2F2D82C68528AA6056583A48F3",
        a: "AADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA703308717D4D9B009BC66842AECDA12AE6A380E62881FF2F2D82C68528AA6056583A48F0",
        b: "7CBBBCF9441CFAB76E1890E46884EAE321F70C0BCB4981527897504BEC3E36A62BCDFA2304976540F6450085F2DAE145C22553B465763689180EA2571867423E",
        g: "04640ECE5C12788717B9C1BA06CBC2A6FEBA85842458C56DDE9DB1758D39C0313D82BA51735CDB3EA499AA77A7D6943A64F7A3F25FE26F06B51BAA2696FA9035DA5B534BD595F5AF0FA2C892376C84ACE1BB4E3019B71634C01131159CAE03CEE9D9932184BEEF216BD71DF2DADF86A627306ECFF96DBB8BACE198B61E00F8B332",
        n: "AADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA70330870553E5C414CA92619418661197FAC10471DB1D381085DDADDB58796829CA90069",
    },
    Curve {
        name: "secp192k1",
        oid: "1.3.132.0.31",
        oid_content: "2B8104001F",
        field_bytes: 24,
        field_bits: 192,
        p: "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFEE37",
        a: "000000000000000000000000000000000000000000000000",
        b: "000000000000000000000000000000000000000000000003",
        g: "04DB4FF10EC057E9AE26B07D0280B7F4341DA5D1B1EAE06C7D9B2F2F6D9C5628A7844163D015BE86344082AA88D95E2F9D",
        n: "FFFFFFFFFFFFFFFFFFFFFFFE26F2FC170F69466A74DEFD8D",
    },
    Curve {
        name: "secp256k1",
        oid: "1.3.132.0.10",
        oid_content: "2B8104000A",
        field_bytes: 32,
        field_bits: 256,
        p: "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F",
        a: "0000000000000000000000000000000000000000000000000000000000000000",
        b: "0000000000000000000000000000000000000000000000000000000000000007",
        g: "0479BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8",
        n: "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        assert_eq!(all().len(), 19);
        for c in all() {
            let w = c.field_bytes;
            assert_eq!(c.p.len(), 2 * w, "{}", c.name);
            for v in [c.prime(), c.a(), c.b(), c.order()] {
                assert_eq!(v.len(), w, "{}", c.name);
            }
            let g = c.generator();
            assert_eq!((g.len(), g[0]), (c.point_len(), 4), "{}", c.name);
            assert_eq!(c.oid_bytes().len() * 2, c.oid_content.len());
            assert_eq!(Curve::by_ec_params(&c.ec_params_der()), Some(c));
            assert_eq!(Curve::by_parameters(&c.prime(), &c.a(), &c.b()), Some(c));
            assert_eq!(Curve::by_name(c.name), Some(c));
        }
    }

    #[test]
    fn lookups() {
        let p256 = Curve::by_name("prime256v1").unwrap();
        assert_eq!(p256.ec_params_der(), unhex("06082A8648CE3D030107"));
        assert_eq!(Curve::by_name("P-521").unwrap().field_bits, 521);
        assert_eq!(Curve::by_name("P-521").unwrap().field_bytes, 66);
        let k1 = Curve::by_name("secp256k1").unwrap();
        // pico-style minimal integers: a = 0 with length 0, b = 07.
        assert_eq!(Curve::by_parameters(&k1.prime(), &[], &[7]), Some(k1));
        assert!(Curve::by_ec_params(&[0x06, 0x03, 1, 2, 3]).is_none());
        assert!(Curve::by_ec_params(&[0x05, 0x00]).is_none());
        assert!(Curve::by_ec_params(&[0x06]).is_none());
        assert!(Curve::by_name("nope").is_none());
    }

    #[test]
    fn domain_parameters_have_the_length_of_a2() {
        // §A.2: the 7F49 value for a 256-bit curve with the 12-byte OID TLV is 0xDA.
        let mut v = tlv::encode(0x06, &[0x04, 0, 0x7F, 0, 7, 2, 2, 2, 2, 3]);
        Curve::by_name("secp256r1")
            .unwrap()
            .write_domain_parameters(&mut v);
        assert_eq!(v.len(), 0xDA);
    }

    #[test]
    fn padding() {
        assert_eq!(pad_to(&[0, 0, 1], 2), Some(vec![0, 1]));
        assert_eq!(pad_to(&[1, 2, 3], 2), None);
        assert_eq!(pad_to(&[], 2), Some(vec![0, 0]));
    }
}
