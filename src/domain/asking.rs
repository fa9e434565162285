//! What a message asks, read from its text alone: whether it is a question (it opens requests and
//! answers nobody), and whether it is only a hello or a ping with nothing to answer yet (the
//! coaching tip of `respect.coach_nohello`).
//!
//! Both read only what a person wrote as prose: code blocks and spans, Slack's `<…>` tokens
//! (mentions, links, `<!channel>`), bare URLs and quoted lines (`> …`) are not the author's own
//! words, so a `?` inside them asks nothing.

use std::time::Duration;

/// At most one coaching tip per author in this long: a tip a day would be nagging.
pub const NOHELLO_TIP_EVERY: Duration = Duration::from_secs(7 * 24 * 3600);

/// Question marks in the scripts people write in: Latin `?`, full-width `？` (CJK), Arabic `؟`,
/// Spanish `¿`, Greek `;` (U+037E), Armenian `՞`, Ethiopic `፧`, the small and the reversed forms,
/// the interrobang and its kin, and the ❓/❔ emoji.
const QUESTION_MARKS: &[char] = &[
    '?', '\u{FF1F}', '\u{061F}', '\u{00BF}', '\u{037E}', '\u{055E}', '\u{1367}', '\u{FE56}',
    '\u{2E2E}', '\u{203D}', '\u{2047}', '\u{2048}', '\u{2049}', '\u{2753}', '\u{2754}',
];

/// The same marks as Slack emoji shortcodes.
const QUESTION_EMOJI: &[&str] = &[":question:", ":grey_question:", ":interrobang:"];

/// Whether `text` (Slack mrkdwn) asks something: a question mark, in any script, in the author's
/// own words. A `?` in a code span or block, a link (`<https://…?x=1>`), a bare URL or a quoted
/// line does not count: quoting a question and answering it is an answer.
pub fn asks_question(text: &str) -> bool {
    let prose = prose(text);
    prose
        .split_whitespace()
        .filter(|word| !is_url(word))
        .any(|word| {
            word.contains(QUESTION_MARKS) || QUESTION_EMOJI.iter().any(|e| word.contains(e))
        })
}

/// `text` without code, `<…>` tokens and quoted lines, each replaced by a space.
fn prose(text: &str) -> String {
    let code_free = without_code(text);
    let token_free = without_tokens(&code_free);
    token_free
        .split('\n')
        .filter(|line| {
            let line = line.trim_start();
            // Slack sends `>` as `&gt;`; raw text (a modal, a test) may carry it bare.
            !(line.starts_with("&gt;") || line.starts_with('>'))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` without code blocks (```…```) and code spans (`…`). An opening backtick with no
/// closing one is shown as written by Slack, and read as prose here too.
fn without_code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('`') {
        out.push_str(&rest[..at]);
        let from = &rest[at..];
        let fence = if from.starts_with("```") { "```" } else { "`" };
        let body = &from[fence.len()..];
        match body.find(fence) {
            Some(end) => {
                out.push(' ');
                rest = &body[end + fence.len()..];
            }
            None => {
                // No closing fence: nothing after this one closes either (any later fence would
                // have closed it), so this scan happens once per kind and the whole is linear.
                out.push_str(fence);
                rest = body;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `text` without Slack's `<…>` tokens: a `<` opens one that the next `>` on the same line
/// closes (Slack escapes a typed `<` as `&lt;`, so a raw one always opens a token). Linear: a
/// later `<` replaces an earlier one that was never closed.
fn without_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut open: Option<usize> = None;
    for c in text.chars() {
        match c {
            '<' => {
                open = Some(out.len());
                out.push(c);
            }
            '>' if open.is_some() => {
                if let Some(start) = open.take() {
                    out.truncate(start);
                    out.push(' ');
                }
            }
            '\n' => {
                open = None;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// A bare URL, as typed where Slack did not link it (raw text, a scenario).
fn is_url(word: &str) -> bool {
    let lower = word
        .trim_start_matches(['(', '[', '"', '\''])
        .to_lowercase();
    lower.contains("://") || lower.starts_with("www.")
}

// ---- bare greetings ----------------------------------------------------------------------------

/// What a hello or a ping with nothing to answer says, word by word, in a few languages: the
/// whole message (besides mentions, punctuation and a waving or smiling emoji) must be made of
/// these phrases. Anything else is content, and then the message is not bare: a false tip
/// annoys more than a missed one helps.
const BARE_PHRASES: &[&str] = &[
    // English: hellos.
    "hi",
    "hey",
    "hello",
    "hiya",
    "heya",
    "howdy",
    "yo",
    "sup",
    "wassup",
    "whats up",
    "what's up",
    "hi there",
    "hey there",
    "hello there",
    "hi again",
    "hey again",
    "good morning",
    "good afternoon",
    "good evening",
    "morning",
    "gm",
    "greetings",
    // English: pings with no question in them yet.
    "ping",
    "are you there",
    "you there",
    "u there",
    "r u there",
    "are you around",
    "you around",
    "are you free",
    "you free",
    "are you busy",
    "you busy",
    "got a minute",
    "got a min",
    "got a sec",
    "got a second",
    "got a moment",
    "you got a minute",
    "you got a sec",
    "have a minute",
    "have a sec",
    "have a second",
    "have a moment",
    "do you have a minute",
    "do you have a sec",
    "do you have a second",
    "do you have a moment",
    "quick question",
    "can i ask you something",
    "can i ask you a question",
    "can i ask a question",
    "can i ask something",
    "how are you",
    "how are you doing",
    "how's it going",
    "how is it going",
    "how are things",
    "how r u",
    "sorry to bother",
    "sorry to bother you",
    "sorry to disturb",
    "sorry to disturb you",
    // German.
    "hallo",
    "moin",
    "servus",
    "guten morgen",
    "guten tag",
    "bist du da",
    "bist du gerade da",
    "hast du kurz zeit",
    "hast du mal kurz zeit",
    "hast du eine minute",
    "hast du kurz",
    "wie geht's",
    "wie gehts",
    "kurze frage",
    // Spanish and Portuguese.
    "hola",
    "buenas",
    "buenos días",
    "buenos dias",
    "buenas tardes",
    "qué tal",
    "que tal",
    "estás ahí",
    "estas ahi",
    "tienes un minuto",
    "tienes un momento",
    "olá",
    "ola",
    "oi",
    "bom dia",
    "boa tarde",
    "tudo bem",
    "tem um minuto",
    // French and Italian.
    "bonjour",
    "salut",
    "coucou",
    "bonsoir",
    "tu es là",
    "tu es la",
    "t'es là",
    "t'es la",
    "ça va",
    "ca va",
    "as tu une minute",
    "tu as une minute",
    "t'as une minute",
    "petite question",
    "ciao",
    "buongiorno",
    "salve",
    "ci sei",
    "hai un minuto",
    "come stai",
    // Dutch, Nordic, Russian, Japanese, Chinese.
    "hoi",
    "goedemorgen",
    "ben je er",
    "hej",
    "hei",
    "moi",
    "привет",
    "здравствуйте",
    "ты тут",
    "ты здесь",
    "こんにちは",
    "おはよう",
    "おはようございます",
    "你好",
    "在吗",
    "在嗎",
];

/// Emoji shortcodes that wave: a message of only these (and mentions) is a hello.
const WAVES: &[&str] = &[
    "wave",
    "hand",
    "raised_hand",
    "raising_hand",
    "man-raising-hand",
    "woman-raising-hand",
    "raised_back_of_hand",
    "hugging_face",
];

/// Emoji that add tone, not content: a smile after a hello leaves it bare.
const TONE: &[&str] = &[
    "slightly_smiling_face",
    "simple_smile",
    "smile",
    "smiley",
    "blush",
    "grin",
    "wink",
    "sweat_smile",
    "pray",
];

/// The most words a bare message has: "do you have a minute" is 5; beyond a dozen there is
/// content, whatever the words.
const MAX_BARE_WORDS: usize = 12;

/// Whether `text` is only a hello or a ping with nothing to answer yet: "hi <@U1>",
/// "hey <@U1>!", "<@U1> are you there?", "hello?", "ping", "yo", "<@U1> got a minute?",
/// ":wave:", "Hallo <@U1>, hast du kurz Zeit?". Mentions (`<@…>`, `<!here>`) and punctuation
/// are not content; a link, code, a number, a channel, any other emoji or any other word is.
/// A message of mentions alone is not bare: it often points at something said just before.
pub fn is_bare_greeting(text: &str) -> bool {
    match bare_words(text) {
        None => false,
        Some(Bare { words, waves }) if words.is_empty() => waves,
        Some(Bare { words, .. }) => made_of_phrases(&words),
    }
}

/// The words of a message that could be bare, and whether it waves.
struct Bare {
    words: Vec<String>,
    waves: bool,
}

/// Splits `text` into lower-cased words, skipping mentions, punctuation and tone emoji; None
/// as soon as something is content.
fn bare_words(text: &str) -> Option<Bare> {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut waves = false;
    let mut chars = text.chars().peekable();
    let end_word = |word: &mut String, words: &mut Vec<String>| {
        let trimmed = word.trim_matches('\'');
        if !trimmed.is_empty() {
            words.push(trimmed.to_lowercase());
        }
        word.clear();
    };
    while let Some(c) = chars.next() {
        if words.len() > MAX_BARE_WORDS {
            return None;
        }
        match c {
            '<' => {
                end_word(&mut word, &mut words);
                let mut inner = String::new();
                loop {
                    match chars.next() {
                        Some('>') => break,
                        Some(c) if c != '<' && c != '\n' && inner.len() < 200 => inner.push(c),
                        _ => return None,
                    }
                }
                let name = inner.split('|').next().unwrap_or("");
                let person = name.starts_with('@');
                let broadcast = matches!(name, "!here" | "!channel" | "!everyone");
                if !(person || broadcast) {
                    // A link, a channel, a user group: something to look at.
                    return None;
                }
            }
            ':' => {
                end_word(&mut word, &mut words);
                let mut name = String::new();
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_alphanumeric() || matches!(n, '_' | '-' | '+') {
                        name.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if name.is_empty() {
                    continue; // a colon, as punctuation
                }
                if chars.peek() != Some(&':') {
                    // "hi:there": not an emoji; the name is a word after a colon.
                    word.push_str(&name);
                    continue;
                }
                chars.next();
                if WAVES.contains(&name.as_str()) {
                    waves = true;
                } else if !(TONE.contains(&name.as_str()) || name.starts_with("skin-tone-")) {
                    return None;
                }
            }
            '\'' | '\u{2019}' => word.push('\''),
            c if c.is_alphanumeric() => word.push(c),
            c if c.is_whitespace() || is_punctuation(c) => end_word(&mut word, &mut words),
            '\u{1F44B}' | '\u{270B}' | '\u{1F64B}' | '\u{1F91A}' | '\u{1F917}' => {
                end_word(&mut word, &mut words);
                waves = true;
            }
            // Skin tones, joiners, variation selectors and gender signs of a waving emoji, and
            // smiles: tone.
            '\u{1F3FB}'..='\u{1F3FF}'
            | '\u{200D}'
            | '\u{FE0F}'
            | '\u{2640}'
            | '\u{2642}'
            | '\u{1F642}'
            | '\u{1F60A}'
            | '\u{1F600}'
            | '\u{1F604}'
            | '\u{263A}' => end_word(&mut word, &mut words),
            // Slack's entities: `&amp;` and the like are content (a typed `&`, `<` or `>`).
            _ => return None,
        }
    }
    end_word(&mut word, &mut words);
    (words.len() <= MAX_BARE_WORDS).then_some(Bare { words, waves })
}

/// Punctuation that carries no content, in the scripts of [`BARE_PHRASES`]; Slack's `*bold*`,
/// `_italic_` and `~strike~` markers too.
fn is_punctuation(c: char) -> bool {
    matches!(
        c,
        '!' | '.'
            | ','
            | ';'
            | '-'
            | '\u{2013}'
            | '\u{2014}'
            | '\u{2026}'
            | '~'
            | '"'
            | '('
            | ')'
            | '*'
            | '_'
            | '\u{FF01}'
            | '\u{3002}'
            | '\u{3001}'
            | '\u{FF0C}'
            | '\u{060C}'
            | '\u{00A1}'
    ) || QUESTION_MARKS.contains(&c)
}

/// Whether `words` are, in order, a run of [`BARE_PHRASES`].
fn made_of_phrases(words: &[String]) -> bool {
    let words: Vec<String> = words.iter().map(|w| squash(w)).collect();
    let phrases: Vec<Vec<String>> = BARE_PHRASES
        .iter()
        .map(|p| p.split(' ').map(squash).collect())
        .collect();
    // reachable[i]: the first i words are a run of phrases.
    let mut reachable = vec![false; words.len() + 1];
    reachable[0] = true;
    for i in 0..words.len() {
        if !reachable[i] {
            continue;
        }
        for phrase in &phrases {
            let end = i + phrase.len();
            if end <= words.len() && words[i..end] == phrase[..] {
                reachable[end] = true;
            }
        }
    }
    reachable[words.len()]
}

/// A word with each run of one letter made one: "heyyy" and "hiii" read as "hey" and "hi" (a
/// phrase is squashed the same way, so "hello" still matches "helloooo").
fn squash(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut last = None;
    for c in word.chars() {
        if last != Some(c) {
            out.push(c);
        }
        last = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_question_mark_in_any_script_asks() {
        for text in [
            "<@UALICE> <@UDAVE> who takes the on-call swap?",
            "can you review this ?",
            "誰が担当しますか？",
            "من سيأخذ المناوبة؟",
            "¿Quién se encarga",
            "Τι ώρα είναι\u{037E}",
            "wait, really‽",
            "<@U1> :question:",
            "what?! no",
        ] {
            assert!(asks_question(text), "{text}");
        }
    }

    #[test]
    fn statements_ask_nothing() {
        for text in [
            "<@UALICE> done!",
            "<@UALICE> I'll take it, <@UDAVE> takes Tuesday.",
            "",
            "   ",
            "<@UALICE>",
            "<!channel> release is out",
        ] {
            assert!(!asks_question(text), "{text}");
        }
    }

    #[test]
    fn a_question_mark_in_code_links_urls_or_quotes_asks_nothing() {
        for text in [
            "<@UALICE> fixed with `x?.y`",
            "<@UALICE> ran ```SELECT * FROM t WHERE a = ?``` and it works",
            "<@UALICE> see <https://example.com/search?q=1|the search>",
            "<@UALICE> see <https://example.com/search?q=1>",
            "<@UALICE> see https://example.com/search?q=1",
            "<@UALICE> see www.example.com/?q=1",
            "&gt; can you review it?\n<@UALICE> done, merged.",
            "> can you review it?\n<@UALICE> done",
            "<#C123|what?> is the place",
        ] {
            assert!(!asks_question(text), "{text}");
        }
    }

    #[test]
    fn an_unclosed_backtick_or_bracket_is_prose() {
        assert!(asks_question("<@UALICE> is `this right?"));
        assert!(asks_question("<@UALICE> ```is this right?"));
        assert!(asks_question("a <b ?"));
        assert!(asks_question("<@UALICE\nis it?"));
    }

    #[test]
    fn bare_hellos_and_pings_are_bare() {
        for text in [
            "hi <@U1>",
            "hey <@U1>!",
            "Hi <@U1|bob>.",
            "<@U1> are you there?",
            "hello?",
            "ping",
            "yo",
            "<@U1> got a minute?",
            "<@U1> :wave:",
            ":wave::skin-tone-3: <@U1>",
            "<@U1> 👋🏽",
            "heyyy <@U1> :slightly_smiling_face:",
            "Hi <@U1>, how are you?",
            "Hi <@U1>, sorry to bother you, do you have a minute?",
            "*hey* <@U1>",
            "Hallo <@U1>, hast du kurz Zeit?",
            "Hola <@U1>, ¿tienes un minuto?",
            "Bonjour <@U1> ! T’es là ?",
            "<@U1> ciao, ci sei?",
            "<@U1> 你好，在吗？",
            "<@U1> привет",
            "<!here> hi <@U1> <@U2>",
            "good morning <@U1>, quick question",
        ] {
            assert!(is_bare_greeting(text), "{text}");
        }
    }

    #[test]
    fn anything_with_content_is_not_bare() {
        for text in [
            "hi <@U1>, can you review PR 42?",
            "<@U1> can you review the Q3 budget doc?",
            "hey <@U1> quick question about the deploy",
            "<@U1> ping re: the invoice",
            "<@U1>",
            "<@U1> <@U2>",
            "",
            "hi <@U1> <https://example.com/doc>",
            "hi <@U1> see <#C123|deploys>",
            "hi <@U1> `cargo test`",
            "hi <@U1> :eyes:",
            "<@U1> 🚀",
            "hi <@U1> 2",
            "hi <@U1> &amp; <@U2>",
            "hey <@U1> hey <@U2> hey hey hey hey hey hey hey hey hey hey hey",
            "<@U1> who takes the on-call swap?",
            "hi <!subteam^S1|devs>",
            "hi <@U1",
        ] {
            assert!(!is_bare_greeting(text), "{text}");
        }
    }

    #[test]
    fn huge_texts_are_read_in_one_pass() {
        let angles = "<".repeat(200_000);
        assert!(!asks_question(&angles));
        let ticks = "`a".repeat(100_000);
        assert!(!asks_question(&ticks));
        let mentions = "<@U12345678> ".repeat(500);
        assert!(!asks_question(&mentions));
        assert!(asks_question(&format!("{mentions} who?")));
        assert!(is_bare_greeting(&format!("hi {mentions}")));
        assert!(!is_bare_greeting(&"hi ".repeat(100_000)));
    }

    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            Just("<@U1> ".to_owned()),
            Just("<!channel>".to_owned()),
            Just("`".to_owned()),
            Just("```".to_owned()),
            Just("<https://x.test/a?b=1|x>".to_owned()),
            Just("&gt; ".to_owned()),
            Just("\n".to_owned()),
            Just("?".to_owned()),
            Just("？".to_owned()),
            Just(":wave:".to_owned()),
            Just("hi ".to_owned()),
            Just("İ\u{0301}".to_owned()),
        ]
    }

    /// Text with no question mark anywhere, nor anything that could hide one.
    fn plain() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 ,.!éß漢字\n]{0,200}"
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_text_is_read_without_panicking(
            parts in proptest::collection::vec(fragment(), 0..40),
        ) {
            let text = parts.concat();
            let _ = asks_question(&text);
            let _ = is_bare_greeting(&text);
        }

        #[test]
        fn a_question_mark_only_in_code_or_a_link_is_no_question(
            before in plain(),
            inside in "[a-z?？؟=&/.]{0,30}",
            after in plain(),
            how in 0usize..4,
        ) {
            let hidden = match how {
                0 => format!("`{inside}?`"),
                1 => format!("```{inside}?\n{inside}```"),
                2 => format!("<https://example.test/{inside}?x=1>"),
                _ => format!(" https://example.test/{inside}?x=1 "),
            };
            let text = format!("{before}{hidden}{after}");
            prop_assert!(!asks_question(&text), "{text:?}");
            // The same words with the mark outside ask.
            let asked = format!("{before} {after} ?");
            prop_assert!(asks_question(&asked), "{asked:?}");
        }

        #[test]
        fn hundreds_of_mentions_change_nothing(
            words in plain(),
            mentions in 0usize..400,
            broadcast in any::<bool>(),
        ) {
            let mut text = "<@U0123456> ".repeat(mentions);
            if broadcast {
                text.push_str("<!channel> ");
            }
            text.push_str(&words);
            prop_assert_eq!(asks_question(&text), asks_question(&words));
            prop_assert_eq!(is_bare_greeting(&text), is_bare_greeting(&words));
        }

        #[test]
        fn an_unknown_word_makes_any_greeting_content(
            greeting in proptest::sample::select(BARE_PHRASES),
            word in "[b-df-hj-np-tv-z]{9,16}",
        ) {
            prop_assert!(is_bare_greeting(&format!("{greeting} <@U1>")), "{greeting}");
            prop_assert!(!is_bare_greeting(&format!("{greeting} <@U1> {word}")), "{greeting} {word}");
        }
    }
}
