//! Parsing `/rfc` slash-command text into a typed command. Pure; the usage text lives here too.
//!
//! Slack sends slash-command text with `should_escape: true`: people arrive as `<@U123|bob>` or
//! `<@U123>`, channels as `<#C123|announce>` or `<#C123>`, and a literal `&`, `<`, `>` as
//! `&amp;`, `&lt;`, `&gt;`.
//!
//! Conventions of the parsed values:
//! - [`OpenArgs::title`] is plain text: Slack's entities are decoded and runs of whitespace are
//!   collapsed, exactly like a title typed into the modal. Escape it before putting it in mrkdwn.
//! - The `rationale` of [`RfcCommand::Decide`] is kept as Slack sent it (already-escaped mrkdwn),
//!   so mentions and links in it keep working when it is posted.
//! - Every [`RfcParseError`] displays as Slack mrkdwn: one sentence, sometimes with an example.
//!   Callers append [`USAGE`] themselves.

use std::fmt;
use std::time::Duration;

/// Slack mrkdwn help for `/rfc`, one form per line.
pub const USAGE: &str = "*`/rfc`* alone opens a form to start an RFC.\n\
*`/rfc Title approver:@who contributors:@a @b informed:#channel @person window:72h`* opens an RFC straight away, e.g. `/rfc Adopt Rust for the billing service approver:@bob contributors:@carol @dave informed:#announce window:72h`. `approver:` is the one person who decides (required); `contributors:` are asked for their input; `informed:` people and channels are kept in the loop; `window:` is how long comments stay open, like `72h` or `3d` (optional). Pick people and channels from Slack's autocomplete so they turn into links.\n\
*`/rfc decide RFC-12 accept|reject why`* records the decision and its rationale, e.g. `/rfc decide RFC-12 accept The benchmarks favour Rust`.\n\
*`/rfc withdraw RFC-12`* withdraws an RFC.\n\
*`/rfc supersede RFC-3 with RFC-12`* marks RFC-3 as replaced by RFC-12.\n\
*`/rfc list`* lists the RFCs.\n\
*`/rfc help`* shows this help.";

/// The longest title accepted, in characters.
pub const MAX_TITLE_CHARS: usize = 150;

// The caps and the verdict are the RFC's own rules, kept in the domain; the parser enforces them.
pub use crate::domain::rfc::{
    MAX_CONTRIBUTORS, MAX_INFORMED_CHANNELS, MAX_INFORMED_PEOPLE, Verdict,
};

/// A list of an RFC that has a cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crowd {
    Contributors,
    InformedPeople,
    InformedChannels,
}

impl Crowd {
    pub fn max(self) -> usize {
        match self {
            Crowd::Contributors => MAX_CONTRIBUTORS,
            Crowd::InformedPeople => MAX_INFORMED_PEOPLE,
            Crowd::InformedChannels => MAX_INFORMED_CHANNELS,
        }
    }

    /// The sentence that refuses `count` of them: plain text (no mrkdwn), so a modal's field
    /// error can show it too.
    pub fn too_many(self, count: usize) -> String {
        let max = self.max();
        match self {
            Crowd::Contributors => format!(
                "An RFC can ask at most {max} contributors, and you listed {count}: keep the people whose input you need and inform the others."
            ),
            Crowd::InformedPeople => format!(
                "An RFC can inform at most {max} people directly, and you listed {count}: inform a channel they are in instead."
            ),
            Crowd::InformedChannels => format!(
                "An RFC can inform at most {max} channels, and you listed {count}: keep the channels that must hear the outcome."
            ),
        }
    }

    /// The refusal if `count` is over the cap.
    pub fn check(self, count: usize) -> Result<(), RfcParseError> {
        if count > self.max() {
            Err(RfcParseError::TooMany { crowd: self, count })
        } else {
            Ok(())
        }
    }
}

/// The longest comment window accepted (a year).
pub const MAX_WINDOW: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The arguments of `/rfc Title approver:… contributors:… informed:… window:…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenArgs {
    /// Plain text (Slack entities decoded, whitespace collapsed), non-empty, at most
    /// [`MAX_TITLE_CHARS`] characters.
    pub title: String,
    /// The one user id who decides.
    pub approver: String,
    /// User ids in the order given, without duplicates and without the approver.
    pub contributors: Vec<String>,
    /// User ids from `informed:`, without duplicates.
    pub informed_users: Vec<String>,
    /// Channel ids from `informed:`, without duplicates.
    pub informed_channels: Vec<String>,
    /// The comment window from `window:`; `None` if absent. Never zero, at most [`MAX_WINDOW`].
    pub window: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RfcCommand {
    /// `/rfc` with no text: open the modal.
    OpenModal,
    Open(OpenArgs),
    /// `/rfc decide RFC-12 accept|reject <rationale>`; the rationale is required (non-empty) and
    /// kept as Slack sent it (escaped mrkdwn).
    Decide {
        id: u64,
        verdict: Verdict,
        rationale: String,
    },
    /// `/rfc withdraw RFC-12`
    Withdraw {
        id: u64,
    },
    /// `/rfc supersede RFC-3 with RFC-12` (old first); `with` is required; old != new.
    Supersede {
        old: u64,
        new: u64,
    },
    /// `/rfc list`
    List,
    /// `/rfc help` (also `/rfc ?`)
    Help,
}

/// A field of `/rfc Title field:value …`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Approver,
    Contributors,
    Informed,
    Window,
}

impl Field {
    /// The key as written in the command, e.g. `approver:`.
    pub fn key(self) -> &'static str {
        match self {
            Field::Approver => "approver:",
            Field::Contributors => "contributors:",
            Field::Informed => "informed:",
            Field::Window => "window:",
        }
    }

    fn from_word(word: &str) -> Option<Field> {
        match word.to_ascii_lowercase().as_str() {
            "approver" => Some(Field::Approver),
            "contributors" | "contributor" => Some(Field::Contributors),
            "informed" => Some(Field::Informed),
            "window" => Some(Field::Window),
            _ => None,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A subcommand whose arguments can be wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subcommand {
    Decide,
    Withdraw,
    Supersede,
    List,
}

impl Subcommand {
    /// The word that selects it, e.g. `withdraw`.
    pub fn word(self) -> &'static str {
        match self {
            Subcommand::Decide => "decide",
            Subcommand::Withdraw => "withdraw",
            Subcommand::Supersede => "supersede",
            Subcommand::List => "list",
        }
    }

    /// A complete, valid example of it.
    pub fn example(self) -> &'static str {
        match self {
            Subcommand::Decide => "/rfc decide RFC-12 accept The benchmarks favour Rust",
            Subcommand::Withdraw => "/rfc withdraw RFC-12",
            Subcommand::Supersede => "/rfc supersede RFC-3 with RFC-12",
            Subcommand::List => "/rfc list",
        }
    }
}

impl fmt::Display for Subcommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// Why `/rfc` text could not be understood. `Display` is one mrkdwn sentence for the user.
/// Fields holding user text (`token`, `text`, `value`, `mention`) keep it as Slack sent it, so
/// it is safe to echo.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RfcParseError {
    #[error(
        "An RFC needs an approver: add `approver:@name` after the title and pick the person from Slack's autocomplete, e.g. `/rfc Adopt Rust for billing approver:@bob`."
    )]
    MissingApprover,
    #[error(
        "Give the RFC a title before `{field}`, e.g. `/rfc Adopt Rust for billing approver:@bob`."
    )]
    MissingTitle { field: Field },
    #[error(
        "The title is {chars} characters long; shorten it to {max} or fewer and put the details in the RFC itself.",
        max = MAX_TITLE_CHARS
    )]
    TitleTooLong { chars: usize },
    #[error(
        "`{field}` appears more than once; give each field only once, with all its values after it."
    )]
    DuplicateField { field: Field },
    #[error(
        "Nobody is listed after `approver:`; put the one person who decides right after it, e.g. `approver:@bob`."
    )]
    EmptyApprover,
    #[error(
        "An RFC has exactly one approver, but you listed {count}; keep the person who decides and move the others to `contributors:`."
    )]
    MultipleApprovers { count: usize },
    #[error("The approver must be a single person, not {mention}; use `approver:@name`.")]
    ApproverNotAPerson { mention: String },
    #[error("{}", empty_field(*.field))]
    EmptyField { field: Field },
    #[error(
        "{mention} is a channel, but `{field}` takes only people; put channels under `informed:`."
    )]
    ChannelNotAllowed { field: Field, mention: String },
    #[error("{mention} is a group, not a person; name the people in `{field}` one by one.")]
    NotAnIndividual { field: Field, mention: String },
    #[error("{}", unlinked(*.field, .text))]
    UnlinkedMention { field: Field, text: String },
    #[error("I don't understand {} in `{field}`; {}", code(.token), field_hint(*.field))]
    UnexpectedToken { field: Field, token: String },
    #[error(
        "{} isn't a field I know; the fields are `approver:`, `contributors:`, `informed:` and `window:`.",
        code(.token)
    )]
    UnknownField { token: String },
    #[error("Put a length of time after `window:`, e.g. `window:72h` or `window:3d`.")]
    MissingWindow,
    #[error(
        "{} isn't a length of time I understand; write the comment window like `window:72h` or `window:3d`.",
        code(.value)
    )]
    InvalidWindow { value: String },
    #[error("The comment window can't be zero; give it a length like `window:72h` or `window:3d`.")]
    ZeroWindow,
    #[error(
        "{} is too long for a comment window; keep it to a year or less, e.g. `window:3d` or `window:2w`.",
        code(.value)
    )]
    WindowTooLong { value: String },
    #[error("{}", missing_id(*.command))]
    MissingId { command: Subcommand },
    #[error(
        "{} isn't an RFC number; write it like `RFC-12`, e.g. `{}`, or add `approver:@name` if you meant to open an RFC with this title.",
        code(.token),
        .command.example()
    )]
    InvalidId { command: Subcommand, token: String },
    #[error(
        "Say whether RFC-{id} is accepted or rejected, e.g. `/rfc decide RFC-{id} accept The benchmarks favour Rust`."
    )]
    MissingVerdict { id: u64 },
    #[error(
        "{} isn't a decision; use `accept` or `reject`, e.g. `/rfc decide RFC-{id} accept The benchmarks favour Rust`.",
        code(.token)
    )]
    InvalidVerdict { id: u64, token: String },
    #[error(
        "Add a short rationale after `{}` so people know why, e.g. `/rfc decide RFC-{id} {} {}`.",
        .verdict.word(),
        .verdict.word(),
        example_rationale(.verdict)
    )]
    MissingRationale { id: u64, verdict: Verdict },
    #[error(
        "Put `with` between the old and the new RFC, e.g. `/rfc supersede RFC-{old} with RFC-{}`.",
        old.saturating_add(1)
    )]
    MissingWith { old: u64 },
    #[error(
        "Say which RFC replaces RFC-{old}, e.g. `/rfc supersede RFC-{old} with RFC-{}`.",
        old.saturating_add(1)
    )]
    MissingNewId { old: u64 },
    #[error(
        "RFC-{id} can't supersede itself; name the old RFC first and the one that replaces it second, e.g. `/rfc supersede RFC-3 with RFC-12`."
    )]
    SameRfc { id: u64 },
    #[error("{}", trailing(*.command, .text))]
    TrailingText { command: Subcommand, text: String },
    #[error("{}", .crowd.too_many(*.count))]
    TooMany { crowd: Crowd, count: usize },
}

fn empty_field(field: Field) -> String {
    let what = match field {
        Field::Informed => "people or channels",
        _ => "people",
    };
    format!(
        "Nobody is listed after `{field}`; add {what} after it (pick them from Slack's autocomplete) or leave it out."
    )
}

fn unlinked(field: Field, text: &str) -> String {
    let (what, sigil) = if text.starts_with('#') {
        ("channel", "#")
    } else {
        ("person", "@")
    };
    format!(
        "{} in `{field}` is plain text, not a link; pick the {what} from Slack's autocomplete as you type `{sigil}` so it becomes a link.",
        code(text)
    )
}

fn field_hint(field: Field) -> &'static str {
    match field {
        Field::Approver => "give exactly one person, e.g. `approver:@bob`.",
        Field::Contributors => {
            "list only people, separated by spaces, e.g. `contributors:@carol @dave`."
        }
        Field::Informed => {
            "list only people and channels, separated by spaces, e.g. `informed:#announce @erin`."
        }
        Field::Window => "give a length of time, e.g. `window:72h`.",
    }
}

fn example_rationale(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::Accept => "The benchmarks favour Rust",
        Verdict::Reject => "Too costly for this quarter",
    }
}

fn missing_id(command: Subcommand) -> String {
    let what = match command {
        Subcommand::Decide => "Say which RFC you are deciding",
        Subcommand::Withdraw => "Say which RFC to withdraw",
        Subcommand::Supersede => "Say which RFC is replaced by which",
        Subcommand::List => "Say which RFC you mean",
    };
    format!("{what}, e.g. `{}`.", command.example())
}

fn trailing(command: Subcommand, text: &str) -> String {
    let hint = match command {
        Subcommand::List => ", or add `approver:@name` if you meant to open an RFC with this title",
        _ => "",
    };
    format!(
        "`/rfc {}` doesn't take {} after it; write it like `{}`{hint}.",
        command.word(),
        code(text),
        command.example()
    )
}

/// Shows user text as inline code: backticks can't be nested, long text is cut short (never
/// inside a Slack token), and a broadcast in it stays inert.
fn code(text: &str) -> String {
    const MAX: usize = 60;
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let shown = if one_line.chars().count() > MAX {
        crate::domain::format::excerpt(&one_line, MAX + 1)
    } else {
        one_line
    };
    format!(
        "`{}`",
        crate::domain::format::quote_slack(&shown).replace('`', "'")
    )
}

/// Parses the text of `/rfc` (everything after the command).
///
/// If the text contains a field key (`approver:`, `contributors:`, `contributor:`, `informed:`,
/// `window:` at the start of a word) it opens an RFC, except `decide <RFC id> …`, whose rationale
/// is free text. Otherwise a leading `decide`, `withdraw`, `supersede`, `list`, `help` or `?`
/// (any case) selects that subcommand, and anything else is an RFC without an approver.
pub fn parse(text: &str) -> Result<RfcCommand, RfcParseError> {
    let text = text.trim();
    let tokens = tokenize(text);
    let Some(first) = tokens.first() else {
        return Ok(RfcCommand::OpenModal);
    };
    let has_keys = tokens.iter().any(|t| key_of(t.text).is_some());
    let word = first.text.to_lowercase();
    match word.as_str() {
        "decide"
            if !has_keys
                || tokens
                    .get(1)
                    .is_some_and(|t| parse_rfc_id(trim_arg(t.text)).is_some()) =>
        {
            parse_decide(text, &tokens)
        }
        _ if has_keys => parse_open(text, &tokens).map(RfcCommand::Open),
        "help" | "?" => Ok(RfcCommand::Help),
        "list" => match tokens.get(1) {
            None => Ok(RfcCommand::List),
            Some(t) => Err(trailing_error(Subcommand::List, text, t)),
        },
        "withdraw" => parse_withdraw(text, &tokens),
        "supersede" => parse_supersede(text, &tokens),
        _ => Err(RfcParseError::MissingApprover),
    }
}

/// "RFC-12", "rfc-12", "RFC12", "12", "#12" -> 12. None otherwise (0 is invalid).
pub fn parse_rfc_id(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s.strip_prefix('#').unwrap_or(s);
    let digits = match s.get(..3) {
        Some(prefix) if prefix.eq_ignore_ascii_case("rfc") => {
            let rest = &s[3..];
            rest.strip_prefix('-').unwrap_or(rest)
        }
        _ => s,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok().filter(|&id| id != 0)
}

/// Extracts a user id from "<@U123|name>" / "<@U123>"; None otherwise.
pub fn parse_user(token: &str) -> Option<String> {
    parse_reference(token, "<@", &['U', 'W'])
}

/// Extracts a channel id from "<#C123|name>" / "<#C123>"; None otherwise.
pub fn parse_channel(token: &str) -> Option<String> {
    parse_reference(token, "<#", &['C', 'G'])
}

fn parse_reference(token: &str, open: &str, prefixes: &[char]) -> Option<String> {
    let inner = token.trim().strip_prefix(open)?.strip_suffix('>')?;
    let id = inner.split_once('|').map_or(inner, |(id, _label)| id);
    let valid = id.len() >= 2
        && id.starts_with(prefixes)
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    valid.then(|| id.to_string())
}

/// A whitespace-separated word of the command text, with its byte span in that text.
#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    text: &'a str,
    start: usize,
    end: usize,
}

/// Splits on whitespace, keeping a Slack reference (`<…>`) whole even if its label has spaces.
fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut start = None;
    let mut skip_to = 0;
    for (i, c) in text.char_indices() {
        if i < skip_to {
            continue;
        }
        if c.is_whitespace() {
            if let Some(start) = start.take() {
                tokens.push(Token {
                    text: &text[start..i],
                    start,
                    end: i,
                });
            }
            continue;
        }
        start.get_or_insert(i);
        if c == '<'
            && let Some(close) = text[i..].find('>')
        {
            skip_to = i + close + 1;
        }
    }
    if let Some(start) = start {
        tokens.push(Token {
            text: &text[start..],
            start,
            end: text.len(),
        });
    }
    tokens
}

/// If the token starts with a field key, the field and whatever is glued after the colon.
fn key_of(token: &str) -> Option<(Field, &str)> {
    let (word, rest) = token.split_once(':')?;
    Some((Field::from_word(word)?, rest))
}

/// Drops punctuation people put after an argument, as in `RFC-12:` or `accept,`.
fn trim_arg(s: &str) -> &str {
    s.trim_end_matches([',', ':', ';', '.', '!'])
}

fn rfc_id_arg(command: Subcommand, token: &Token<'_>) -> Result<u64, RfcParseError> {
    parse_rfc_id(trim_arg(token.text)).ok_or_else(|| RfcParseError::InvalidId {
        command,
        token: token.text.to_string(),
    })
}

fn trailing_error(command: Subcommand, text: &str, from: &Token<'_>) -> RfcParseError {
    RfcParseError::TrailingText {
        command,
        text: text[from.start..].trim().to_string(),
    }
}

fn parse_verdict(word: &str) -> Option<Verdict> {
    match trim_arg(word).to_lowercase().as_str() {
        "accept" | "accepted" | "approve" | "approved" => Some(Verdict::Accept),
        "reject" | "rejected" | "decline" | "declined" => Some(Verdict::Reject),
        _ => None,
    }
}

fn parse_decide(text: &str, tokens: &[Token<'_>]) -> Result<RfcCommand, RfcParseError> {
    let id_token = tokens.get(1).ok_or(RfcParseError::MissingId {
        command: Subcommand::Decide,
    })?;
    let id = rfc_id_arg(Subcommand::Decide, id_token)?;
    let verdict_token = tokens.get(2).ok_or(RfcParseError::MissingVerdict { id })?;
    let verdict =
        parse_verdict(verdict_token.text).ok_or_else(|| RfcParseError::InvalidVerdict {
            id,
            token: verdict_token.text.to_string(),
        })?;
    let rationale = text[verdict_token.end..].trim();
    if rationale.is_empty() {
        return Err(RfcParseError::MissingRationale { id, verdict });
    }
    Ok(RfcCommand::Decide {
        id,
        verdict,
        rationale: rationale.to_string(),
    })
}

fn parse_withdraw(text: &str, tokens: &[Token<'_>]) -> Result<RfcCommand, RfcParseError> {
    let id_token = tokens.get(1).ok_or(RfcParseError::MissingId {
        command: Subcommand::Withdraw,
    })?;
    let id = rfc_id_arg(Subcommand::Withdraw, id_token)?;
    if let Some(extra) = tokens.get(2) {
        return Err(trailing_error(Subcommand::Withdraw, text, extra));
    }
    Ok(RfcCommand::Withdraw { id })
}

fn parse_supersede(text: &str, tokens: &[Token<'_>]) -> Result<RfcCommand, RfcParseError> {
    let old_token = tokens.get(1).ok_or(RfcParseError::MissingId {
        command: Subcommand::Supersede,
    })?;
    let old = rfc_id_arg(Subcommand::Supersede, old_token)?;
    match tokens.get(2) {
        None => return Err(RfcParseError::MissingNewId { old }),
        Some(t) if t.text.eq_ignore_ascii_case("with") => {}
        Some(_) => return Err(RfcParseError::MissingWith { old }),
    }
    let new_token = tokens.get(3).ok_or(RfcParseError::MissingNewId { old })?;
    let new = rfc_id_arg(Subcommand::Supersede, new_token)?;
    if let Some(extra) = tokens.get(4) {
        return Err(trailing_error(Subcommand::Supersede, text, extra));
    }
    if old == new {
        return Err(RfcParseError::SameRfc { id: old });
    }
    Ok(RfcCommand::Supersede { old, new })
}

fn parse_open(text: &str, tokens: &[Token<'_>]) -> Result<OpenArgs, RfcParseError> {
    let Some(first_key) = tokens.iter().position(|t| key_of(t.text).is_some()) else {
        return Err(RfcParseError::MissingApprover);
    };

    // Split the fields first: `segments` holds each key with the words of its value.
    let mut segments: Vec<(Field, Vec<&str>)> = Vec::new();
    for token in &tokens[first_key..] {
        if let Some((field, glued)) = key_of(token.text) {
            if segments.iter().any(|(seen, _)| *seen == field) {
                return Err(RfcParseError::DuplicateField { field });
            }
            let words = if glued.is_empty() {
                Vec::new()
            } else {
                vec![glued]
            };
            segments.push((field, words));
        } else if let Some((_, words)) = segments.last_mut() {
            words.push(token.text);
        }
    }

    let title = plain_title(&text[..tokens[first_key].start]);
    if title.is_empty() {
        let field = segments
            .first()
            .map_or(Field::Approver, |(field, _)| *field);
        return Err(RfcParseError::MissingTitle { field });
    }
    let chars = title.chars().count();
    if chars > MAX_TITLE_CHARS {
        return Err(RfcParseError::TitleTooLong { chars });
    }

    let mut approver = None;
    let mut contributors = Vec::new();
    let mut informed_users = Vec::new();
    let mut informed_channels = Vec::new();
    let mut window = None;
    for (field, words) in &segments {
        match field {
            Field::Approver => approver = Some(parse_approver(words)?),
            Field::Contributors => (contributors, _) = parse_people(*field, words)?,
            Field::Informed => (informed_users, informed_channels) = parse_people(*field, words)?,
            Field::Window => window = Some(parse_window(words)?),
        }
    }
    let approver = approver.ok_or(RfcParseError::MissingApprover)?;
    contributors.retain(|user| *user != approver);
    Crowd::Contributors.check(contributors.len())?;
    Crowd::InformedPeople.check(informed_users.len())?;
    Crowd::InformedChannels.check(informed_channels.len())?;

    Ok(OpenArgs {
        title,
        approver,
        contributors,
        informed_users,
        informed_channels,
        window,
    })
}

/// Turns Slack's escaped title into plain text on one line, as a person reads it: `<@U1|bob>`
/// becomes `@bob`, a link its label, and a broadcast (`<!here>`) inert text that pings nobody
/// wherever the title is shown later.
fn plain_title(raw: &str) -> String {
    let one_line = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    crate::domain::format::slack_to_plain(&crate::domain::format::quote_slack(&one_line))
}

/// One item of a field's value.
enum Piece<'a> {
    User(String),
    Channel(String),
    /// `<!here>`, `<!subteam^S1|@eng>` and the like.
    Group(&'a str),
    /// `@bob` or `#announce` typed without picking from the autocomplete.
    Unlinked(&'a str),
    Other(&'a str),
}

/// Splits a field's words into items: Slack references stand alone even when glued together,
/// and commas separate items too.
fn pieces<'a>(words: &[&'a str]) -> Vec<Piece<'a>> {
    let mut out = Vec::new();
    for word in words {
        let mut start = None;
        let mut skip_to = 0;
        let flush = |start: &mut Option<usize>, end: usize, out: &mut Vec<Piece<'a>>| {
            if let Some(start) = start.take() {
                out.push(classify(&word[start..end]));
            }
        };
        for (i, c) in word.char_indices() {
            if i < skip_to {
                continue;
            }
            if c == '<'
                && let Some(close) = word[i..].find('>')
            {
                flush(&mut start, i, &mut out);
                skip_to = i + close + 1;
                out.push(classify(&word[i..skip_to]));
            } else if c == ',' {
                flush(&mut start, i, &mut out);
            } else {
                start.get_or_insert(i);
            }
        }
        flush(&mut start, word.len(), &mut out);
    }
    out
}

fn classify(piece: &str) -> Piece<'_> {
    if let Some(user) = parse_user(piece) {
        Piece::User(user)
    } else if let Some(channel) = parse_channel(piece) {
        Piece::Channel(channel)
    } else if piece.starts_with("<!") && piece.ends_with('>') {
        Piece::Group(piece)
    } else if piece.len() > 1 && (piece.starts_with('@') || piece.starts_with('#')) {
        Piece::Unlinked(piece)
    } else {
        Piece::Other(piece)
    }
}

/// How to name a group reference in a message without notifying anyone.
fn group_name(raw: &str) -> String {
    let inner = raw.trim_start_matches("<!").trim_end_matches('>');
    let name = match inner.split_once('|') {
        Some((_, label)) if !label.is_empty() => label.to_string(),
        _ if inner.starts_with("subteam^") => "@group".to_string(),
        _ => format!("@{inner}"),
    };
    code(&name)
}

/// The error for an item that is neither a person nor a channel.
fn stray(field: Field, piece: &Piece<'_>) -> RfcParseError {
    match piece {
        Piece::Group(raw) => RfcParseError::NotAnIndividual {
            field,
            mention: group_name(raw),
        },
        Piece::Unlinked(text) => RfcParseError::UnlinkedMention {
            field,
            text: (*text).to_string(),
        },
        Piece::Other(text) if looks_like_key(text) => RfcParseError::UnknownField {
            token: (*text).to_string(),
        },
        Piece::Other(text) => RfcParseError::UnexpectedToken {
            field,
            token: (*text).to_string(),
        },
        Piece::User(id) => RfcParseError::UnexpectedToken {
            field,
            token: format!("<@{id}>"),
        },
        Piece::Channel(id) => RfcParseError::ChannelNotAllowed {
            field,
            mention: format!("<#{id}>"),
        },
    }
}

/// `deadline:` or `approvers:<@U1>`: a word made of letters followed by a colon.
fn looks_like_key(text: &str) -> bool {
    text.split_once(':')
        .is_some_and(|(word, _)| word.len() > 1 && word.bytes().all(|b| b.is_ascii_alphabetic()))
}

fn push_unique(list: &mut Vec<String>, id: String) {
    if !list.contains(&id) {
        list.push(id);
    }
}

fn parse_approver(words: &[&str]) -> Result<String, RfcParseError> {
    let pieces = pieces(words);
    let mut users = Vec::new();
    for piece in &pieces {
        if let Piece::User(id) = piece {
            push_unique(&mut users, id.clone());
        }
    }
    if users.len() > 1 {
        return Err(RfcParseError::MultipleApprovers { count: users.len() });
    }
    for piece in &pieces {
        match piece {
            Piece::User(_) => {}
            Piece::Channel(id) => {
                return Err(RfcParseError::ApproverNotAPerson {
                    mention: format!("<#{id}>"),
                });
            }
            Piece::Group(raw) => {
                return Err(RfcParseError::ApproverNotAPerson {
                    mention: group_name(raw),
                });
            }
            other => return Err(stray(Field::Approver, other)),
        }
    }
    users.pop().ok_or(RfcParseError::EmptyApprover)
}

/// People (and, for `informed:`, channels) of a list field: `(users, channels)`.
fn parse_people(field: Field, words: &[&str]) -> Result<(Vec<String>, Vec<String>), RfcParseError> {
    let pieces = pieces(words);
    if pieces.is_empty() {
        return Err(RfcParseError::EmptyField { field });
    }
    let mut users = Vec::new();
    let mut channels = Vec::new();
    for piece in pieces {
        match piece {
            Piece::User(id) => push_unique(&mut users, id),
            Piece::Channel(id) if field == Field::Informed => push_unique(&mut channels, id),
            other => return Err(stray(field, &other)),
        }
    }
    Ok((users, channels))
}

fn parse_window(words: &[&str]) -> Result<Duration, RfcParseError> {
    let value = words.join(" ");
    let value = value.trim_end_matches([',', ';', '.']);
    if value.is_empty() {
        return Err(RfcParseError::MissingWindow);
    }
    let window = humantime::parse_duration(value).map_err(|_| RfcParseError::InvalidWindow {
        value: value.to_string(),
    })?;
    if window.is_zero() {
        return Err(RfcParseError::ZeroWindow);
    }
    if window > MAX_WINDOW {
        return Err(RfcParseError::WindowTooLong {
            value: value.to_string(),
        });
    }
    Ok(window)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 60 * 60;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn open(title: &str, approver: &str) -> OpenArgs {
        OpenArgs {
            title: title.to_string(),
            approver: approver.to_string(),
            contributors: Vec::new(),
            informed_users: Vec::new(),
            informed_channels: Vec::new(),
            window: None,
        }
    }

    fn parse_open_ok(text: &str) -> OpenArgs {
        match parse(text) {
            Ok(RfcCommand::Open(args)) => args,
            other => panic!("{text:?} should open an RFC, got {other:?}"),
        }
    }

    #[test]
    fn the_issue_example() {
        let args = parse_open_ok(
            "Adopt Rust for the billing service approver:<@U0BOB|bob> contributors:<@U0CAROL|carol> <@U0DAVE|dave> informed:<#C0ANN|announce> window:72h",
        );
        assert_eq!(
            args,
            OpenArgs {
                title: "Adopt Rust for the billing service".to_string(),
                approver: "U0BOB".to_string(),
                contributors: ids(&["U0CAROL", "U0DAVE"]),
                informed_users: Vec::new(),
                informed_channels: ids(&["C0ANN"]),
                window: Some(Duration::from_secs(72 * HOUR)),
            }
        );
    }

    #[test]
    fn open_forms() {
        let full = |title: &str,
                    approver: &str,
                    contributors: &[&str],
                    users: &[&str],
                    channels: &[&str],
                    window: Option<u64>| OpenArgs {
            title: title.to_string(),
            approver: approver.to_string(),
            contributors: ids(contributors),
            informed_users: ids(users),
            informed_channels: ids(channels),
            window: window.map(Duration::from_secs),
        };
        let cases: Vec<(&str, OpenArgs)> = vec![
            ("Plan approver:<@U1|bob>", open("Plan", "U1")),
            ("Plan approver:<@U1>", open("Plan", "U1")),
            ("Plan approver: <@U1|bob>", open("Plan", "U1")),
            ("Plan approver:   <@W9ABC>  ", open("Plan", "W9ABC")),
            ("  Plan\tthings   approver:<@U1>", open("Plan things", "U1")),
            ("Plan APPROVER:<@U1>", open("Plan", "U1")),
            ("Plan Approver: <@U1>", open("Plan", "U1")),
            ("Q3: budget approver:<@U1>", open("Q3: budget", "U1")),
            (
                "Approvers: who signs off? approver:<@U1>",
                open("Approvers: who signs off?", "U1"),
            ),
            ("R&amp;D &lt;v2&gt; approver:<@U1>", open("R&D <v2>", "U1")),
            ("Plan approver:<@U1|Bob Smith>", open("Plan", "U1")),
            (
                "Plan window:3d informed:<@U3> <#C1|general> approver:<@U1> contributors: <@U2>",
                full("Plan", "U1", &["U2"], &["U3"], &["C1"], Some(72 * HOUR)),
            ),
            (
                "Plan contributor:<@U2> approver:<@U1>",
                full("Plan", "U1", &["U2"], &[], &[], None),
            ),
            (
                "Plan approver:<@U1> CONTRIBUTORS:<@U2>,<@U3>, <@U4> <@U2> INFORMED:<#G7>,<@U5> <#G7|priv> <@U5>",
                full("Plan", "U1", &["U2", "U3", "U4"], &["U5"], &["G7"], None),
            ),
            (
                "Plan approver:<@U1> contributors:<@U2><@U3>",
                full("Plan", "U1", &["U2", "U3"], &[], &[], None),
            ),
            (
                "Plan approver:<@U1> contributors:<@U2> <@U1> <@U3>",
                full("Plan", "U1", &["U2", "U3"], &[], &[], None),
            ),
            (
                "Plan approver:<@U1> <@U1|bob>",
                full("Plan", "U1", &[], &[], &[], None),
            ),
            (
                "Plan approver:<@U1> window: 90m",
                full("Plan", "U1", &[], &[], &[], Some(90 * 60)),
            ),
            (
                "Plan approver:<@U1> window:1w",
                full("Plan", "U1", &[], &[], &[], Some(7 * 24 * HOUR)),
            ),
            (
                "Plan approver:<@U1> window:3 days",
                full("Plan", "U1", &[], &[], &[], Some(72 * HOUR)),
            ),
            (
                "Plan approver:<@U1> window:2d 12h",
                full("Plan", "U1", &[], &[], &[], Some(60 * HOUR)),
            ),
            // A subcommand word followed by fields is just the start of a title.
            (
                "List of vendors approver:<@U1>",
                open("List of vendors", "U1"),
            ),
            (
                "help desk rotation approver:<@U1>",
                open("help desk rotation", "U1"),
            ),
            (
                "Withdraw support for IE11 approver:<@U1>",
                open("Withdraw support for IE11", "U1"),
            ),
            (
                "decide how we deploy approver:<@U1>",
                open("decide how we deploy", "U1"),
            ),
            (
                "Supersede RFC-3 with something better approver:<@U1>",
                open("Supersede RFC-3 with something better", "U1"),
            ),
            ("? approver:<@U1>", open("?", "U1")),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_open_ok(text), expected, "{text:?}");
        }
    }

    #[test]
    fn title_limit() {
        let title = "x".repeat(MAX_TITLE_CHARS);
        assert_eq!(
            parse_open_ok(&format!("{title} approver:<@U1>")).title,
            title
        );
        let accented = "é".repeat(MAX_TITLE_CHARS);
        assert_eq!(
            parse_open_ok(&format!("{accented} approver:<@U1>")).title,
            accented
        );
        let long = "x".repeat(MAX_TITLE_CHARS + 1);
        assert_eq!(
            parse(&format!("{long} approver:<@U1>")),
            Err(RfcParseError::TitleTooLong {
                chars: MAX_TITLE_CHARS + 1
            })
        );
    }

    /// (input, expected error, a distinctive phrase of its message)
    fn error_cases() -> Vec<(&'static str, RfcParseError, &'static str)> {
        use RfcParseError as E;
        vec![
            // Open: title and approver.
            ("Adopt Rust", E::MissingApprover, "needs an approver"),
            ("Adopt Rust <@U1>", E::MissingApprover, "`approver:@name`"),
            (
                "Adopt Rust approvers:<@U1>",
                E::MissingApprover,
                "needs an approver",
            ),
            (
                "Plan contributors:<@U2>",
                E::MissingApprover,
                "needs an approver",
            ),
            (
                "approver:<@U1>",
                E::MissingTitle {
                    field: Field::Approver,
                },
                "Give the RFC a title before `approver:`",
            ),
            (
                "  Window:3d approver:<@U1>",
                E::MissingTitle {
                    field: Field::Window,
                },
                "title before `window:`",
            ),
            (
                "Plan approver:",
                E::EmptyApprover,
                "Nobody is listed after `approver:`",
            ),
            (
                "Plan approver: window:3d",
                E::EmptyApprover,
                "right after it",
            ),
            (
                "Plan approver:<@U1> <@U2>",
                E::MultipleApprovers { count: 2 },
                "exactly one approver",
            ),
            (
                "Plan approver:<@U1> and <@U2>",
                E::MultipleApprovers { count: 2 },
                "move the others to `contributors:`",
            ),
            (
                "Plan approver:<@U1> approver:<@U2>",
                E::DuplicateField {
                    field: Field::Approver,
                },
                "more than once",
            ),
            (
                "Plan approver:<@U1> contributor:<@U2> Contributors:<@U3>",
                E::DuplicateField {
                    field: Field::Contributors,
                },
                "`contributors:` appears more than once",
            ),
            (
                "Plan approver:<#C1|announce>",
                E::ApproverNotAPerson {
                    mention: "<#C1>".to_string(),
                },
                "must be a single person, not <#C1>",
            ),
            (
                "Plan approver:<!subteam^S1|@eng>",
                E::ApproverNotAPerson {
                    mention: "`@eng`".to_string(),
                },
                "not `@eng`",
            ),
            (
                "Plan approver:<!here>",
                E::ApproverNotAPerson {
                    mention: "`@here`".to_string(),
                },
                "not `@here`",
            ),
            (
                "Plan approver:@bob",
                E::UnlinkedMention {
                    field: Field::Approver,
                    text: "@bob".to_string(),
                },
                "pick the person from Slack's autocomplete",
            ),
            (
                "Plan approver: bob",
                E::UnexpectedToken {
                    field: Field::Approver,
                    token: "bob".to_string(),
                },
                "I don't understand `bob` in `approver:`",
            ),
            (
                "Plan approver:<@u1>",
                E::UnexpectedToken {
                    field: Field::Approver,
                    token: "<@u1>".to_string(),
                },
                "`<@u1>`",
            ),
            (
                "Plan approver:<@U1> deadline:friday",
                E::UnknownField {
                    token: "deadline:friday".to_string(),
                },
                "isn't a field I know",
            ),
            // Open: lists.
            (
                "Plan approver:<@U1> contributors:<@U2> and <@U3>",
                E::UnexpectedToken {
                    field: Field::Contributors,
                    token: "and".to_string(),
                },
                "I don't understand `and` in `contributors:`",
            ),
            (
                "Plan approver:<@U1> contributors:<@U2> carol",
                E::UnexpectedToken {
                    field: Field::Contributors,
                    token: "carol".to_string(),
                },
                "`carol`",
            ),
            (
                "Plan approver:<@U1> contributors:<@U2> &amp; <@U3>",
                E::UnexpectedToken {
                    field: Field::Contributors,
                    token: "&amp;".to_string(),
                },
                "list only people",
            ),
            (
                "Plan approver:<@U1> contributors:@bob",
                E::UnlinkedMention {
                    field: Field::Contributors,
                    text: "@bob".to_string(),
                },
                "`@bob` in `contributors:` is plain text",
            ),
            (
                "Plan approver:<@U1> contributors:<#C1|announce>",
                E::ChannelNotAllowed {
                    field: Field::Contributors,
                    mention: "<#C1>".to_string(),
                },
                "<#C1> is a channel, but `contributors:` takes only people",
            ),
            (
                "Plan approver:<@U1> contributors:<!subteam^S1>",
                E::NotAnIndividual {
                    field: Field::Contributors,
                    mention: "`@group`".to_string(),
                },
                "is a group, not a person",
            ),
            (
                "Plan approver:<@U1> contributors:",
                E::EmptyField {
                    field: Field::Contributors,
                },
                "Nobody is listed after `contributors:`",
            ),
            (
                "Plan approver:<@U1> informed: window:3d",
                E::EmptyField {
                    field: Field::Informed,
                },
                "people or channels",
            ),
            (
                "Plan approver:<@U1> informed:#announce",
                E::UnlinkedMention {
                    field: Field::Informed,
                    text: "#announce".to_string(),
                },
                "pick the channel from Slack's autocomplete",
            ),
            (
                "Plan approver:<@U1> informed:<#C1> everyone",
                E::UnexpectedToken {
                    field: Field::Informed,
                    token: "everyone".to_string(),
                },
                "people and channels",
            ),
            (
                "Plan approver:<@U1> informed:<!channel>",
                E::NotAnIndividual {
                    field: Field::Informed,
                    mention: "`@channel`".to_string(),
                },
                "`@channel` is a group",
            ),
            // Open: window.
            (
                "Plan approver:<@U1> window:",
                E::MissingWindow,
                "Put a length of time after `window:`",
            ),
            (
                "Plan approver:<@U1> window:soon",
                E::InvalidWindow {
                    value: "soon".to_string(),
                },
                "`soon` isn't a length of time",
            ),
            (
                "Plan approver:<@U1> window:72",
                E::InvalidWindow {
                    value: "72".to_string(),
                },
                "`window:72h`",
            ),
            (
                "Plan approver:<@U1> window:0h",
                E::ZeroWindow,
                "can't be zero",
            ),
            (
                "Plan approver:<@U1> window:400d",
                E::WindowTooLong {
                    value: "400d".to_string(),
                },
                "a year or less",
            ),
            (
                "Plan approver:<@U1> window:3d window:4d",
                E::DuplicateField {
                    field: Field::Window,
                },
                "`window:` appears more than once",
            ),
            // decide
            (
                "decide",
                E::MissingId {
                    command: Subcommand::Decide,
                },
                "Say which RFC you are deciding",
            ),
            (
                "decide whether to adopt Rust",
                E::InvalidId {
                    command: Subcommand::Decide,
                    token: "whether".to_string(),
                },
                "`whether` isn't an RFC number",
            ),
            (
                "decide RFC-0 accept fine",
                E::InvalidId {
                    command: Subcommand::Decide,
                    token: "RFC-0".to_string(),
                },
                "write it like `RFC-12`",
            ),
            (
                "decide RFC-12",
                E::MissingVerdict { id: 12 },
                "accepted or rejected",
            ),
            (
                "Decide RFC-12 maybe later",
                E::InvalidVerdict {
                    id: 12,
                    token: "maybe".to_string(),
                },
                "`maybe` isn't a decision",
            ),
            (
                "decide RFC-12 accept|reject why",
                E::InvalidVerdict {
                    id: 12,
                    token: "accept|reject".to_string(),
                },
                "use `accept` or `reject`",
            ),
            (
                "decide RFC-12 accept",
                E::MissingRationale {
                    id: 12,
                    verdict: Verdict::Accept,
                },
                "Add a short rationale after `accept`",
            ),
            (
                "decide 7 Rejected   ",
                E::MissingRationale {
                    id: 7,
                    verdict: Verdict::Reject,
                },
                "`/rfc decide RFC-7 reject Too costly",
            ),
            // withdraw
            (
                "withdraw",
                E::MissingId {
                    command: Subcommand::Withdraw,
                },
                "Say which RFC to withdraw",
            ),
            (
                "withdraw support for IE11",
                E::InvalidId {
                    command: Subcommand::Withdraw,
                    token: "support".to_string(),
                },
                "if you meant to open an RFC",
            ),
            (
                "withdraw RFC-12 please",
                E::TrailingText {
                    command: Subcommand::Withdraw,
                    text: "please".to_string(),
                },
                "`/rfc withdraw` doesn't take `please`",
            ),
            // supersede
            (
                "supersede",
                E::MissingId {
                    command: Subcommand::Supersede,
                },
                "replaced by which",
            ),
            (
                "supersede RFC-3",
                E::MissingNewId { old: 3 },
                "Say which RFC replaces RFC-3",
            ),
            (
                "supersede RFC-3 RFC-12",
                E::MissingWith { old: 3 },
                "Put `with` between",
            ),
            (
                "supersede RFC-3 by RFC-12",
                E::MissingWith { old: 3 },
                "`/rfc supersede RFC-3 with RFC-4`",
            ),
            (
                "supersede RFC-3 with",
                E::MissingNewId { old: 3 },
                "replaces RFC-3",
            ),
            (
                "supersede RFC-3 with the new one",
                E::InvalidId {
                    command: Subcommand::Supersede,
                    token: "the".to_string(),
                },
                "`the` isn't an RFC number",
            ),
            (
                "supersede the old auth flow",
                E::InvalidId {
                    command: Subcommand::Supersede,
                    token: "the".to_string(),
                },
                "e.g. `/rfc supersede RFC-3 with RFC-12`",
            ),
            (
                "supersede RFC-3 with RFC-3",
                E::SameRfc { id: 3 },
                "can't supersede itself",
            ),
            (
                "supersede RFC-3 with RFC-12 today",
                E::TrailingText {
                    command: Subcommand::Supersede,
                    text: "today".to_string(),
                },
                "doesn't take `today`",
            ),
            // list
            (
                "list of vendors",
                E::TrailingText {
                    command: Subcommand::List,
                    text: "of vendors".to_string(),
                },
                "`/rfc list` doesn't take `of vendors` after it",
            ),
        ]
    }

    #[test]
    fn errors() {
        for (text, expected, phrase) in error_cases() {
            let err = parse(text).expect_err(text);
            assert_eq!(err, expected, "{text:?}");
            let message = err.to_string();
            assert!(
                message.contains(phrase),
                "{text:?}: {message:?} should contain {phrase:?}"
            );
        }
    }

    #[test]
    fn error_messages_are_single_sentences_for_people() {
        for (text, err, _) in error_cases() {
            let message = err.to_string();
            assert!(
                message.starts_with(|c: char| c.is_uppercase() || c == '`' || c == '<'),
                "{text:?}: {message}"
            );
            assert!(message.ends_with('.'), "{text:?}: {message}");
            assert!(!message.contains('\n'), "{text:?}: {message}");
            for jargon in ["Some(", "None", "Err(", "Ok(", "{", "}", "\\"] {
                assert!(!message.contains(jargon), "{text:?}: {message}");
            }
            // Inline code spans are balanced.
            assert_eq!(message.matches('`').count() % 2, 0, "{text:?}: {message}");
        }
    }

    #[test]
    fn crowds_are_capped_with_a_sentence_that_says_the_cap() {
        let people = |n: usize, prefix: &str| {
            (0..n)
                .map(|i| format!("<@U{prefix}{i:03}|p{i}>"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let channels = |n: usize| {
            (0..n)
                .map(|i| format!("<#C{i:03}|c{i}>"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let ok = format!(
            "Plan approver:<@U1> contributors:{} informed:{} {}",
            people(50, "C"),
            people(50, "I"),
            channels(10)
        );
        let args = parse_open_ok(&ok);
        assert_eq!(
            (
                args.contributors.len(),
                args.informed_users.len(),
                args.informed_channels.len()
            ),
            (50, 50, 10)
        );
        let cases = [
            (
                format!("Plan approver:<@U1> informed:{}", people(51, "I")),
                Crowd::InformedPeople,
                51,
                "at most 50 people",
            ),
            (
                format!("Plan approver:<@U1> informed:{}", channels(11)),
                Crowd::InformedChannels,
                11,
                "at most 10 channels",
            ),
            (
                format!("Plan approver:<@U1> contributors:{}", people(60, "C")),
                Crowd::Contributors,
                60,
                "at most 50 contributors",
            ),
        ];
        for (text, crowd, count, phrase) in cases {
            let err = parse(&text).unwrap_err();
            assert_eq!(err, RfcParseError::TooMany { crowd, count });
            assert!(err.to_string().contains(phrase), "{err}");
            assert!(
                err.to_string().contains(&format!("you listed {count}")),
                "{err}"
            );
        }
        // The same person twice counts once.
        let twice = format!("Plan approver:<@U1> informed:{} <@UI000>", people(50, "I"));
        assert_eq!(parse_open_ok(&twice).informed_users.len(), 50);
    }

    #[test]
    fn titles_read_plainly_and_never_broadcast() {
        let args = parse_open_ok("<!here> Ship it with <@U2|carol> &amp; <#C1|dev> approver:<@U1>");
        assert!(!args.title.contains('<'), "{}", args.title);
        assert!(
            args.title.contains("Ship it with @carol & #dev"),
            "{}",
            args.title
        );
        assert!(args.title.starts_with("@\u{2060}here"), "{}", args.title);
        // An echoed broadcast in an error is inert too.
        let err = parse("Plan approver:<@U1> contributors:<!channel>").unwrap_err();
        assert!(!err.to_string().contains("<!channel>"), "{err}");
        // The rationale is kept as Slack sent it; whoever posts it quotes it.
        assert_eq!(
            parse("decide RFC-3 accept <!channel> because <@U2|bob> said so"),
            Ok(RfcCommand::Decide {
                id: 3,
                verdict: Verdict::Accept,
                rationale: "<!channel> because <@U2|bob> said so".to_string(),
            })
        );
    }

    #[test]
    fn long_echoed_text_is_cut_short() {
        let junk = "y".repeat(200);
        let message = parse(&format!("Plan approver:<@U1> window:{junk}"))
            .unwrap_err()
            .to_string();
        assert!(message.contains('…'), "{message}");
        assert!(message.len() < 200, "{message}");
        let backticks = parse("Plan approver:<@U1> contributors:a`b")
            .unwrap_err()
            .to_string();
        assert!(backticks.contains("`a'b`"), "{backticks}");
    }

    #[test]
    fn subcommands() {
        let cases: Vec<(&str, RfcCommand)> = vec![
            ("", RfcCommand::OpenModal),
            ("   \t ", RfcCommand::OpenModal),
            ("list", RfcCommand::List),
            ("  LIST  ", RfcCommand::List),
            ("help", RfcCommand::Help),
            ("Help", RfcCommand::Help),
            ("?", RfcCommand::Help),
            ("help me choose", RfcCommand::Help),
            ("withdraw RFC-12", RfcCommand::Withdraw { id: 12 }),
            ("Withdraw #4", RfcCommand::Withdraw { id: 4 }),
            ("withdraw rfc-4:", RfcCommand::Withdraw { id: 4 }),
            (
                "supersede RFC-3 with RFC-12",
                RfcCommand::Supersede { old: 3, new: 12 },
            ),
            (
                "SUPERSEDE 3 WITH rfc12",
                RfcCommand::Supersede { old: 3, new: 12 },
            ),
            (
                "decide RFC-12 accept The benchmarks favour Rust",
                RfcCommand::Decide {
                    id: 12,
                    verdict: Verdict::Accept,
                    rationale: "The benchmarks favour Rust".to_string(),
                },
            ),
            (
                "DECIDE rfc-12 Approved: <@U1|bob> agreed, see <https://x.example/doc|the doc>  ",
                RfcCommand::Decide {
                    id: 12,
                    verdict: Verdict::Accept,
                    rationale: "<@U1|bob> agreed, see <https://x.example/doc|the doc>".to_string(),
                },
            ),
            (
                "decide 5 accepted fine",
                RfcCommand::Decide {
                    id: 5,
                    verdict: Verdict::Accept,
                    rationale: "fine".to_string(),
                },
            ),
            (
                "decide #5 approve fine",
                RfcCommand::Decide {
                    id: 5,
                    verdict: Verdict::Accept,
                    rationale: "fine".to_string(),
                },
            ),
            (
                "decide RFC5 REJECT too costly &amp; slow",
                RfcCommand::Decide {
                    id: 5,
                    verdict: Verdict::Reject,
                    rationale: "too costly &amp; slow".to_string(),
                },
            ),
            (
                "decide RFC-5 rejected no",
                RfcCommand::Decide {
                    id: 5,
                    verdict: Verdict::Reject,
                    rationale: "no".to_string(),
                },
            ),
            (
                "decide RFC-5 decline, not now",
                RfcCommand::Decide {
                    id: 5,
                    verdict: Verdict::Reject,
                    rationale: "not now".to_string(),
                },
            ),
            // A rationale may mention field keys; it is still a decision.
            (
                "decide RFC-5 reject window: too short for approver: review",
                RfcCommand::Decide {
                    id: 5,
                    verdict: Verdict::Reject,
                    rationale: "window: too short for approver: review".to_string(),
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), Ok(expected), "{text:?}");
        }
    }

    #[test]
    fn rfc_ids() {
        let cases: &[(&str, Option<u64>)] = &[
            ("RFC-12", Some(12)),
            ("rfc-12", Some(12)),
            ("Rfc-12", Some(12)),
            ("RFC12", Some(12)),
            ("12", Some(12)),
            ("#12", Some(12)),
            ("#RFC-12", Some(12)),
            (" RFC-007 ", Some(7)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("0", None),
            ("RFC-0", None),
            ("RFC-", None),
            ("RFC", None),
            ("", None),
            ("#", None),
            ("-12", None),
            ("+12", None),
            ("RFC--12", None),
            ("RFC 12", None),
            ("12a", None),
            ("RFC-1.5", None),
            ("ABC-12", None),
            ("RF", None),
            ("é12", None),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_rfc_id(input), *expected, "{input:?}");
        }
    }

    #[test]
    fn users_and_channels() {
        let users: &[(&str, Option<&str>)] = &[
            ("<@U123ABC|bob>", Some("U123ABC")),
            ("<@U123ABC>", Some("U123ABC")),
            ("<@W1|x y>", Some("W1")),
            ("<@U1|>", Some("U1")),
            ("<@u123>", None),
            ("<@C123>", None),
            ("<@U>", None),
            ("<@U12-3>", None),
            ("<#C123>", None),
            ("@bob", None),
            ("<@U123", None),
            ("U123", None),
            ("<@U1>x", None),
        ];
        for (input, expected) in users {
            assert_eq!(parse_user(input).as_deref(), *expected, "{input:?}");
        }
        let channels: &[(&str, Option<&str>)] = &[
            ("<#C123ABC|announce>", Some("C123ABC")),
            ("<#C123ABC>", Some("C123ABC")),
            ("<#G42|private>", Some("G42")),
            ("<#C1|>", Some("C1")),
            ("<#U123>", None),
            ("<#c123>", None),
            ("<@C123>", None),
            ("#announce", None),
            ("<#C>", None),
        ];
        for (input, expected) in channels {
            assert_eq!(parse_channel(input).as_deref(), *expected, "{input:?}");
        }
    }

    #[test]
    fn usage_lists_every_form() {
        for form in [
            "*`/rfc`*",
            "approver:@who",
            "contributors:@a @b",
            "informed:#channel @person",
            "window:72h",
            "*`/rfc decide RFC-12 accept|reject why`*",
            "*`/rfc withdraw RFC-12`*",
            "*`/rfc supersede RFC-3 with RFC-12`*",
            "*`/rfc list`*",
            "*`/rfc help`*",
        ] {
            assert!(USAGE.contains(form), "{form}");
        }
    }
}
