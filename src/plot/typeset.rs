//! The symbols of figure text: labels are written in the code, and in SPEC files, in a plain
//! ASCII notation (`theta_j(t)`, `R_inf`, `m^-1/2`, `+- 2 SE`, `lambda/2`), and drawn with the
//! symbols of a paper (θⱼ(t), R∞, m⁻¹ᐟ², ± 2 SE, λ/2) by [`typeset`], the one place that
//! turns the one into the other for every figure and report caption. Every symbol it writes
//! has a glyph in the embedded DejaVu Sans (checked by a test against the font's own table).
//!
//! The notation, applied left to right:
//!
//! - a Greek letter's name as a whole word (`alpha`, `beta`, `gamma`, `delta`, `kappa`,
//!   `lambda`, `mu`, `rho`, `sigma`, `tau`, `theta`, `phi`, `Delta`, `Phi`, `Sigma`, `Theta`): the
//!   letter. Not after a `.` or `_`, so that scenario keys (`dynamics.lambda`) and column
//!   names (`free_energy_noise_sigma`) stay as they are;
//! - `_c` after a letter, with c one of `0-9 i j k m n t` and no letter, digit or `_` after it: the
//!   subscript (`rho_t` -> ρₜ, `lambda_n` -> λₙ); `_inf` likewise: ∞ (`R_inf` -> R∞). Longer
//!   subscripts stay as written (`lambda_min` -> λ_min);
//! - `^` and an integer or a fraction of integers, bare or in parentheses: superscripts
//!   (`|theta|^2` -> |θ|², `m^-1/2` -> m⁻¹ᐟ², `m^(-1)` -> m⁻¹);
//! - `+-` -> ±, `->` -> →, `>=` -> ≥, `<=` -> ≤, `sqrt` as a word -> √, `||` -> ‖;
//! - a hyphen that is a minus (`minus_sign`: ` - `, `slope -0.6`, `D = -dE/dt`,
//!   `(-lambda`): the minus sign −.

/// Greek letters by name (whole words).
const GREEK: [(&str, char); 16] = [
    ("alpha", 'α'),
    ("beta", 'β'),
    ("gamma", 'γ'),
    ("delta", 'δ'),
    ("kappa", 'κ'),
    ("lambda", 'λ'),
    ("mu", 'μ'),
    ("rho", 'ρ'),
    ("sigma", 'σ'),
    ("tau", 'τ'),
    ("theta", 'θ'),
    ("phi", 'φ'),
    ("Delta", 'Δ'),
    ("Phi", 'Φ'),
    ("Sigma", 'Σ'),
    ("Theta", 'Θ'),
];

/// Subscript forms of the characters that may follow `_`.
const SUBSCRIPTS: [(char, char); 16] = [
    ('0', '₀'),
    ('1', '₁'),
    ('2', '₂'),
    ('3', '₃'),
    ('4', '₄'),
    ('5', '₅'),
    ('6', '₆'),
    ('7', '₇'),
    ('8', '₈'),
    ('9', '₉'),
    ('i', 'ᵢ'),
    ('j', 'ⱼ'),
    ('k', 'ₖ'),
    ('m', 'ₘ'),
    ('n', 'ₙ'),
    ('t', 'ₜ'),
];

/// Superscript form of a digit, `-` or `/`.
fn superscript(c: char) -> Option<char> {
    Some(match c {
        '0' => '⁰',
        '1' => '¹',
        '2' => '²',
        '3' => '³',
        '4' => '⁴',
        '5' => '⁵',
        '6' => '⁶',
        '7' => '⁷',
        '8' => '⁸',
        '9' => '⁹',
        '-' => '⁻',
        '/' => 'ᐟ',
        _ => return None,
    })
}

/// `text` with the symbols of the module's notation.
///
/// ```
/// use meanfield::plot::typeset::typeset;
///
/// assert_eq!(typeset("mean |theta_j(t) - theta_j(0)|"), "mean |θⱼ(t) − θⱼ(0)|");
/// assert_eq!(typeset("m^-1/2, seed mean +- 2 SE"), "m⁻¹ᐟ², seed mean ± 2 SE");
/// assert_eq!(typeset("dynamics.lambda = 0.01"), "dynamics.lambda = 0.01");
/// ```
#[must_use]
pub fn typeset(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        if let Some((written, used)) = symbol_at(&chars, i, out.chars().last()) {
            out.push_str(&written);
            i += used;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// The symbol that starts at `chars[i]`, if any: (what is written, characters used). `before`
/// is the last character written.
fn symbol_at(chars: &[char], i: usize, before: Option<char>) -> Option<(String, usize)> {
    let rest = &chars[i..];
    let starts = |s: &str| rest.iter().take(s.chars().count()).copied().eq(s.chars());
    let word_start = before.is_none_or(|b| !(b.is_alphanumeric() || b == '.' || b == '_'));
    match chars[i] {
        '+' if starts("+-") => Some(("±".into(), 2)),
        '-' if starts("->") => Some(("→".into(), 2)),
        '|' if starts("||") => Some(("‖".into(), 2)),
        '>' if starts(">=") => Some(("≥".into(), 2)),
        '<' if starts("<=") => Some(("≤".into(), 2)),
        '-' if minus_sign(chars, i) => Some(("−".into(), 1)),
        '^' => superscript_at(chars, i),
        '_' => subscript_at(chars, i, before),
        c if c.is_ascii_alphabetic() && word_start => {
            let word_end = rest
                .iter()
                .position(|c| !c.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            let word: String = rest[..word_end].iter().collect();
            let after = rest.get(word_end).copied();
            if after.is_some_and(|a| a.is_alphanumeric()) {
                return None;
            }
            if word == "sqrt" {
                return Some(("√".into(), word_end));
            }
            GREEK
                .iter()
                .find(|(name, _)| *name == word)
                .map(|(_, letter)| (letter.to_string(), word_end))
        }
        _ => None,
    }
}

/// Whether the hyphen at `chars[i]` is a minus: between spaces; before a digit after a space,
/// `=` or `[`; or before a letter or digit where the last character before it that is not a
/// space is an operator or an opening bracket (`= -dE/dt`, `(-lambda`), or nothing. Not the e
/// of `1e-3`, not a hyphenated word.
fn minus_sign(chars: &[char], i: usize) -> bool {
    let before = i.checked_sub(1).map(|j| chars[j]);
    let Some(after) = chars.get(i + 1).copied() else {
        return false;
    };
    let operator = chars[..i]
        .iter()
        .rev()
        .find(|c| **c != ' ')
        .is_none_or(|c| "=([,<>+*/".contains(*c));
    match before {
        Some(' ') if after == ' ' => true,
        None | Some(' ' | '=' | '[') if after.is_ascii_digit() => true,
        None | Some(' ' | '=' | '[' | '(') => after.is_alphanumeric() && operator,
        _ => false,
    }
}

/// `^` and an integer or a fraction, bare or in parentheses, as superscripts.
fn superscript_at(chars: &[char], i: usize) -> Option<(String, usize)> {
    let parenthesised = chars.get(i + 1) == Some(&'(');
    let start = i + 1 + usize::from(parenthesised);
    let mut end = start;
    if chars.get(end) == Some(&'-') {
        end += 1;
    }
    let digits = |from: usize| {
        chars[from.min(chars.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let first = digits(end);
    if first == 0 {
        return None;
    }
    end += first;
    if chars.get(end) == Some(&'/') && digits(end + 1) > 0 {
        end += 1 + digits(end + 1);
    }
    if parenthesised {
        if chars.get(end) != Some(&')') {
            return None;
        }
    } else if chars
        .get(end)
        .is_some_and(|c| c.is_alphanumeric() || *c == '.')
    {
        return None;
    }
    let written: String = chars[start..end]
        .iter()
        .filter_map(|&c| superscript(c))
        .collect();
    Some((written, end - i + usize::from(parenthesised)))
}

/// `_c` (a subscript character) or `_inf` after a letter, not followed by a letter, a digit
/// or `_` (an identifier such as `finite_m_relu`).
fn subscript_at(chars: &[char], i: usize, before: Option<char>) -> Option<(String, usize)> {
    if !before.is_some_and(char::is_alphabetic) {
        return None;
    }
    let free = |j: usize| {
        !chars
            .get(j)
            .is_some_and(|c| c.is_alphanumeric() || *c == '_')
    };
    if chars[i + 1..].starts_with(&['i', 'n', 'f']) && free(i + 4) {
        return Some(("∞".into(), 4));
    }
    let c = *chars.get(i + 1)?;
    let (_, sub) = SUBSCRIPTS.iter().find(|(plain, _)| *plain == c)?;
    free(i + 2).then(|| (sub.to_string(), 2))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn the_labels_of_the_figures_are_typeset() {
        for (plain, drawn) in [
            (
                "objective E = R + (lambda/2) mean |theta|^2",
                "objective E = R + (λ/2) mean |θ|²",
            ),
            (
                "RMS distance to Phi(t) theta_j(0)",
                "RMS distance to Φ(t) θⱼ(0)",
            ),
            (
                "|E R_m(t) - R_inf(t)| (+- 2 SE)",
                "|E Rₘ(t) − R∞(t)| (± 2 SE)",
            ),
            ("R(0) exp(-lambda_n t / n)", "R(0) exp(−λₙ t / n)"),
            ("W2(rho_t, rho_0)", "W2(ρₜ, ρ₀)"),
            ("m^-1", "m⁻¹"),
            ("m^(-1/2)", "m⁻¹ᐟ²"),
            ("slope -0.62 [-0.51, -0.48]", "slope −0.62 [−0.51, −0.48]"),
            ("alpha = 1/2 (lazy)", "α = 1/2 (lazy)"),
            ("risk 0.19 -> 0.02", "risk 0.19 → 0.02"),
            ("1/sqrt(m)", "1/√(m)"),
            ("||w||", "‖w‖"),
            // Two absolute values side by side are written apart, or they would read as a norm.
            ("sized by |a| |w|", "sized by |a| |w|"),
            (
                "spurious minimum (lambda_min >= -tol)",
                "spurious minimum (λ_min ≥ −tol)",
            ),
            ("dissipation D = -dE/dt", "dissipation D = −dE/dt"),
            ("|Theta(t) - Theta(0)|", "|Θ(t) − Θ(0)|"),
        ] {
            assert_eq!(typeset(plain), drawn, "{plain}");
        }
    }

    #[test]
    fn keys_words_numbers_and_long_subscripts_are_left_as_written() {
        for text in [
            "dynamics.lambda",
            "free_energy_noise_sigma",
            "w_norm_mean",
            "mean-field",
            "non -linear",
            "x -y",
            "8.78e-5",
            "step_100",
            "alphabet taught",
            "x^2.5",
            "m^k",
            "marginals_a.csv",
            "finite_m_relu_teacher",
        ] {
            let expected = text.to_string();
            assert_eq!(typeset(text), expected, "{text}");
        }
    }

    /// Every character `typeset` can write has a glyph in the embedded font (its cmap).
    #[test]
    fn every_symbol_has_a_glyph_in_the_embedded_font() {
        let font = ttf_parser::Face::parse(crate::plot::font::DEJAVU_SANS, 0).unwrap();
        let written: Vec<char> = GREEK
            .iter()
            .map(|(_, c)| *c)
            .chain(SUBSCRIPTS.iter().map(|(_, c)| *c))
            .chain("0123456789-/".chars().filter_map(superscript))
            .chain("±→‖−√∞≥≤".chars())
            .collect();
        for c in written {
            assert!(
                font.glyph_index(c).is_some(),
                "no glyph for {c} (U+{:04X})",
                u32::from(c)
            );
        }
    }
}
