//! Context words: a word that says what the number after it is (`phone:`, `Tel.`, `Handy`,
//! `call me on`), which makes a bare or oddly grouped digit string count as a phone.

use super::scan::before;

/// The phone detector's default context words, lower case, in English, German, French,
/// Spanish, Portuguese, Italian, Dutch and Hindi written in Latin script. A word matches
/// case-insensitively (ASCII letters; accented letters as written here), as a whole word,
/// followed by at most a few of ` :.-#=` and optionally one filler ([`FILLERS`]).
pub const DEFAULT_WORDS: &[&str] = &[
    // English
    "phone", "telephone", "ph", "tel", "mobile", "mob", "cell", "cellphone", "cell phone", "fax", "call", "call me", "call me on",
    "call me at", "call us on", "call us at", "text me on", "text me at", "reach me on", "reach me at", "whatsapp", "sms",
    // German
    "telefon", "telefonnummer", "rufnummer", "handy", "handynummer", "mobil", "mobilnummer", "mobiltelefon", "fax-nr", "faxnummer",
    "ruf mich an", "ruf an", "anrufen", "erreichbar", "durchwahl",
    // French
    "téléphone", "tél", "portable", "numéro de téléphone", "numéro de portable", "appelez-moi", "appelle-moi", "joignable", "gsm",
    // Spanish
    "teléfono", "telefono", "tfno", "tlf", "móvil", "movil", "celular", "cel", "llámame", "llamame", "llámanos", "llamanos",
    // Portuguese
    "telefone", "fone", "telemóvel", "telemovel", "ligue", "ligue-me", "me liga", "zap",
    // Italian
    "cellulare", "chiamami", "chiamaci", "numero di telefono", "numero di cellulare",
    // Dutch
    "telefoon", "telefoonnummer", "mobiel", "mobiele nummer", "bel", "bel me", "bel ons",
    // Hindi (Latin script)
    "mera number", "mera phone number", "mera mobile number", "mobile number", "phone number", "contact number",
];

/// Words that may stand between a context word and the number: `Tel. Nr.`, `phone no.`,
/// `call me on`, `ruf mich an unter`, `appelez-moi au`, `llámame al`, `bel me op`.
const FILLERS: &[&[u8]] = &[
    b"no", b"nr", b"num", b"number", b"nummer", "numéro".as_bytes(), "número".as_bytes(), b"numero", "n°".as_bytes(), "nº".as_bytes(),
    b"on", b"at", b"unter", b"au", b"al", b"para", b"op", b"is", b"ist", b"est", b"es", "é".as_bytes(), b"hai",
];

/// Operator-given context words, compiled: the words (trimmed, lower-cased, inner whitespace
/// as single spaces) and their [`bloom`] filter.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub list: Vec<Box<[u8]>>,
    pub bloom: Bloom,
}

/// Compiles operator-given context words. `Err(index)` names a blank word.
pub fn compile(words: &[String]) -> Result<Compiled, usize> {
    let mut list = Vec::with_capacity(words.len());
    let mut bloom = FILLER_BLOOM;
    for (i, w) in words.iter().enumerate() {
        let norm = w.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_lowercase();
        if norm.is_empty() {
            return Err(i);
        }
        bloom = add(bloom, norm.as_bytes());
        list.push(norm.into_bytes().into_boxed_slice());
    }
    Ok(Compiled { list, bloom })
}

/// A 512-bit Bloom filter of the last words of the context words and of the fillers: the word
/// before a number is hashed once, and the words are compared only when its two bits are set
/// (most numbers follow other words: `order`, `build`, `ts`).
pub type Bloom = [u64; 8];

/// The Bloom filter of [`DEFAULT_WORDS`] and the fillers.
pub const DEFAULT_BLOOM: Bloom = {
    let mut b = FILLER_BLOOM;
    let mut i = 0;
    while i < DEFAULT_WORDS.len() {
        b = add(b, DEFAULT_WORDS[i].as_bytes());
        i += 1;
    }
    b
};

const FILLER_BLOOM: Bloom = {
    let mut b = [0; 8];
    let mut i = 0;
    while i < FILLERS.len() {
        b = add(b, FILLERS[i]);
        i += 1;
    }
    b
};

/// FNV-1a of the ASCII-lower-cased `t[start..end]`.
const fn hash(t: &[u8], start: usize, end: usize) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut i = start;
    while i < end {
        h = (h ^ t[i].to_ascii_lowercase() as u64).wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

/// The start of the last word of `t[..end]` (a run of [`word_byte`]s).
const fn last_word(t: &[u8], end: usize) -> usize {
    let mut s = end;
    while s > 0 && word_byte(t[s - 1]) {
        s -= 1;
    }
    s
}

const fn bits(h: u64) -> [usize; 2] {
    [(h & 511) as usize, (h >> 9 & 511) as usize]
}

const fn add(mut b: Bloom, w: &[u8]) -> Bloom {
    let h = hash(w, last_word(w, w.len()), w.len());
    let [x, y] = bits(h);
    b[x >> 6] |= 1 << (x & 63);
    b[y >> 6] |= 1 << (y & 63);
    b
}

/// Whether the word ending at `end` may be the last word of a context word or filler.
fn may_be_word(t: &[u8], end: usize, bloom: &Bloom) -> bool {
    let start = last_word(t, end);
    end - start <= 24 && bits(hash(t, start, end)).iter().all(|&x| bloom.get(x >> 6).is_some_and(|w| w & (1 << (x & 63)) != 0))
}

/// The byte of a context word: ASCII letters and digits, and any non-ASCII byte (for accented
/// words).
const fn word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

/// Skips at most four glue bytes (` :.-#=`, tab, newline) back from `i`.
fn skip_glue(t: &[u8], mut i: usize) -> usize {
    let stop = i.saturating_sub(4);
    while i > stop && matches!(before(t, i), b' ' | b':' | b'.' | b'-' | b'#' | b'=' | b'\t' | b'\n') {
        i -= 1;
    }
    i
}

/// Whether `t[..end]` ends with the whole word (or phrase) `w`, ASCII case-insensitively.
fn ends_with_word(t: &[u8], end: usize, w: &[u8]) -> bool {
    let Some(start) = end.checked_sub(w.len()) else { return false };
    t.get(start..end).is_some_and(|p| p.eq_ignore_ascii_case(w)) && !word_byte(before(t, start))
}

/// Whether a context word from `words` (with their `bloom`) stands right before position `i`
/// (the number's start).
pub fn follows_word<W: AsRef<[u8]>>(t: &[u8], i: usize, words: &[W], bloom: &Bloom) -> bool {
    let end = skip_glue(t, i);
    if (end == i && i > 0 && word_byte(before(t, i))) || !word_byte(before(t, end)) || !may_be_word(t, end, bloom) {
        return false;
    }
    if words.iter().any(|w| ends_with_word(t, end, w.as_ref())) {
        return true;
    }
    // One filler word between (`Tel. Nr. 030…`, `call me on 0958…`).
    let Some(filler) = FILLERS.iter().find(|f| ends_with_word(t, end, f)) else { return false };
    let before_filler = end - filler.len();
    let end = skip_glue(t, before_filler);
    end < before_filler && may_be_word(t, end, bloom) && words.iter().any(|w| ends_with_word(t, end, w.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn follows(text: &str) -> bool {
        let i = text.find(|c: char| c.is_ascii_digit() || c == '+').unwrap_or(text.len());
        follows_word(text.as_bytes(), i, DEFAULT_WORDS, &DEFAULT_BLOOM)
    }

    #[test]
    fn context_words_stand_right_before_the_number() {
        for t in [
            "phone: 0958",
            "Tel. 0301",
            "TEL:0301",
            "Mobile 98765",
            "call me on 0958",
            "Tel. Nr. 0301",
            "Téléphone : 0123",
            "ruf mich an unter 0301",
            "llámame al 612",
            "bel me op 0612",
            "Handy: 0171",
            "telemóvel 912",
            "mera number 98765",
            "WhatsApp +49",
            "fax-nr.: 0221",
            "cellulare 333",
        ] {
            assert!(follows(t), "{t}");
        }
        for t in ["telephoned 0958", "smartphone 0958", "phone model 15", "order 0958", "0958", "Telefonkonferenz 15", "cell A12"] {
            assert!(!follows(t), "{t}");
        }
    }

    #[test]
    fn operator_words_are_normalised() {
        assert_eq!(compile(&["  Direct   Line ".into()]).unwrap().list[0].as_ref(), b"direct line");
        assert!(matches!(compile(&["ok".into(), " ".into()]), Err(1)));
        let w = compile(&["direct line".into()]).unwrap();
        assert!(follows_word(b"Direct line: 4567890", 13, &w.list, &w.bloom) && !follows_word(b"phone: 4567890", 7, &w.list, &w.bloom));
    }
}
