//! Public holidays by region: a country (`US`, `FR`) or a country's subdivision (`DE-BY`, `IN-KA`,
//! `GB-SCT`, `CA-QC`), parsed from a user's or the config's code, and the question a calendar asks
//! of it: is this date a holiday there, and what is it called.
//!
//! # Where the dates come from
//!
//! From [python-holidays](https://github.com/vacanza/python-holidays), the maintained data set of
//! government-designated holidays per country and ISO 3166-2 subdivision, through the
//! `py-holidays-rs` crate (0.1.x) with its `offline` feature: the crate ships python-holidays'
//! dates for the years [`YEARS`] (2000 to 2050), one compressed file per country, and embeds them
//! in our binary. Nothing here computes a holiday rule, and nothing fetches anything at run time.
//!
//! Why this source and not the others that were weighed:
//! - the `holidays` crate (0.1.0, also generated from python-holidays) has countries only, no
//!   subdivisions (no `DE-BY`, no `IN-KA`), and stops at 2030;
//! - iCalendar files read with the `icalendar` crate would mean shipping and refreshing our own
//!   `.ics` file per region, a data set to maintain by hand;
//! - `py-holidays-rs` has the subdivisions python-holidays knows (Germany's 16 states, India's states
//!   and union territories, the UK's four nations, Canada's provinces, the US states, …) with
//!   English names. Its cost: 0.1.x compiles its (here unused) download client whatever the
//!   features, so the build compiles hyper-tls and native-tls; the binary links none of it, as
//!   only the embedded data is ever read.
//!
//! # Cost of a question
//!
//! A region's dates (all years, a few hundred to a thousand entries) are decoded once per process
//! when the first [`Region`] with that code is parsed, and shared by every clone and every later
//! parse of the same code: [`Region::is_holiday`] is then one lookup in a `BTreeMap`, cheap enough
//! to ask once per day while walking years of days.
//!
//! Outside [`YEARS`] a region has no holidays: its dates are simply not in the data set. Nothing
//! here logs; a caller that cares can compare the year with [`YEARS`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::RangeInclusive;
use std::sync::{Arc, LazyLock, Mutex};

use chrono::NaiveDate;
use py_holidays_rs::{CountryCode, SubDivision};

/// The years the embedded data covers (py-holidays-rs 0.1.x generates 2000 to 2050). A date
/// outside them is never a holiday.
pub const YEARS: RangeInclusive<i32> = 2000..=2050;

/// Examples offered in error messages and help text.
const EXAMPLES: &str = "`US`, `DE-BY`, `IN-KA`, `GB-SCT`, `FR` or `CA-QC`";

/// A region's holidays: date → name ("Christmas Day").
type Dates = BTreeMap<NaiveDate, String>;

/// A region whose public holidays we know: a country, or one subdivision of it.
///
/// Cheap to clone (an `Arc`); two regions are equal when their codes are. Its [`fmt::Display`]
/// is the canonical code (`DE-BY`), which [`Region::parse`] reads back.
#[derive(Clone)]
pub struct Region(Arc<Inner>);

struct Inner {
    /// Canonical: `CC` or `CC-SUB` as the data set spells it (upper case but for the few
    /// Italian cities, `IT-Andria`).
    code: String,
    /// Shared with every other `Region` of the same code (see [`dates_of`]).
    dates: Arc<Dates>,
}

/// Why a region code was refused. Each message says what to type instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HolidayError {
    #[error("no holiday region given; use an ISO 3166 code such as {EXAMPLES}")]
    Empty,
    #[error("`{0}` is not a region code; use an ISO 3166 code such as {EXAMPLES}")]
    Malformed(String),
    #[error("`{code}` is not a country code I know; use an ISO 3166 code such as {EXAMPLES}{hint}")]
    UnknownCountry { code: String, hint: String },
    #[error("{country_name} has no subdivisions with holidays of their own here; use `{country}`")]
    NoSubdivisions {
        country: String,
        country_name: &'static str,
    },
    #[error(
        "`{code}` is not a subdivision of {country_name} I know; use `{country}` or one of {}",
        valid.join(", ")
    )]
    UnknownSubdivision {
        code: String,
        country: String,
        country_name: &'static str,
        valid: Vec<String>,
    },
    #[error("the holiday data for `{code}` cannot be read ({reason}); this build is broken")]
    Data { code: String, reason: String },
}

/// A country the data set covers, for help text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportedCountry {
    /// `DE`.
    pub code: String,
    /// `Germany`.
    pub name: &'static str,
    /// Full codes of its subdivisions (`DE-BB`, `DE-BE`, …), sorted; empty when the country's
    /// holidays are the same everywhere.
    pub subdivisions: Vec<String>,
}

impl Region {
    /// Reads a region code: `US`, `DE-BY`, `de-by`, ` gb - sct ` (case and spaces around the
    /// parts do not matter). Decodes the region's dates on the first parse of that code.
    pub fn parse(text: &str) -> Result<Region, HolidayError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(HolidayError::Empty);
        }
        let mut parts = text.split('-').map(str::trim);
        let country_part = parts.next().unwrap_or_default().to_ascii_uppercase();
        let sub_part = parts.next().map(str::to_ascii_uppercase);
        // ISO 3166-2 subdivision codes have up to three characters; python-holidays adds a few
        // Italian cities by name (`IT-Andria`).
        let well_formed = |part: &str, max: usize| {
            !part.is_empty() && part.len() <= max && part.bytes().all(|b| b.is_ascii_alphanumeric())
        };
        if parts.next().is_some()
            || !well_formed(&country_part, 3)
            || sub_part.as_deref().is_some_and(|s| !well_formed(s, 16))
        {
            return Err(HolidayError::Malformed(text.to_string()));
        }
        let Some(country) = index().get(country_part.as_str()) else {
            // The one code people type most that is not ISO 3166's.
            let hint = if country_part == "UK" {
                " (the United Kingdom is `GB`, its nations `GB-ENG`, `GB-NIR`, `GB-SCT`, `GB-WLS`)"
            } else {
                ""
            };
            return Err(HolidayError::UnknownCountry {
                code: country_part,
                hint: hint.to_string(),
            });
        };
        let (code, subdivision) = match sub_part {
            None => (country.code.clone(), SubDivision::National),
            Some(sub) => {
                if country.subdivisions.is_empty() {
                    return Err(HolidayError::NoSubdivisions {
                        country: country.code.clone(),
                        country_name: country.name,
                    });
                }
                let typed = format!("{}-{sub}", country.code);
                let Some((code, subdivision)) = country
                    .subdivisions
                    .iter()
                    .find(|(c, _)| c.eq_ignore_ascii_case(&typed))
                else {
                    return Err(HolidayError::UnknownSubdivision {
                        code: typed,
                        country: country.code.clone(),
                        country_name: country.name,
                        valid: country
                            .subdivisions
                            .iter()
                            .map(|(c, _)| c.clone())
                            .collect(),
                    });
                };
                (code.clone(), *subdivision)
            }
        };
        let dates = dates_of(&code, country.country, subdivision)?;
        Ok(Region(Arc::new(Inner { code, dates })))
    }

    /// The canonical code: `US`, `DE-BY`.
    pub fn code(&self) -> &str {
        &self.0.code
    }

    /// Whether `date` is a public holiday in this region (a subdivision's holidays include its
    /// country's). Always false outside [`YEARS`].
    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        self.0.dates.contains_key(&date)
    }

    /// The holiday's English name ("Christmas Day"; two on one date are joined by "; "), or
    /// `None` on a day that is not a holiday here.
    pub fn holiday_name(&self, date: NaiveDate) -> Option<String> {
        self.0.dates.get(&date).cloned()
    }

    /// The holidays between `from` and `to`, both included, in date order.
    pub fn holidays_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Iterator<Item = (NaiveDate, &str)> + '_ {
        // `BTreeMap::range` panics on a reversed range: a reversed one is simply empty.
        (from <= to)
            .then(|| self.0.dates.range(from..=to))
            .into_iter()
            .flatten()
            .map(|(d, n)| (*d, n.as_str()))
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.code)
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Region").field(&self.0.code).finish()
    }
}

impl PartialEq for Region {
    fn eq(&self, other: &Self) -> bool {
        self.0.code == other.0.code
    }
}

impl Eq for Region {}

impl std::hash::Hash for Region {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.code.hash(state);
    }
}

impl std::str::FromStr for Region {
    type Err = HolidayError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Region::parse(s)
    }
}

/// Every country the data set covers, sorted by code, with its subdivisions.
pub fn supported_countries() -> Vec<SupportedCountry> {
    let mut countries: Vec<SupportedCountry> = index()
        .values()
        .map(|c| SupportedCountry {
            code: c.code.clone(),
            name: c.name,
            subdivisions: c
                .subdivisions
                .iter()
                .map(|(code, _)| code.clone())
                .collect(),
        })
        .collect();
    countries.sort_by(|a, b| a.code.cmp(&b.code));
    countries
}

/// One line for help text: the examples and how many countries are known.
pub fn supported_summary() -> String {
    let countries = index().len();
    let subdivisions: usize = index().values().map(|c| c.subdivisions.len()).sum();
    format!(
        "an ISO 3166 code such as {EXAMPLES}: {countries} countries and {subdivisions} of their \
         subdivisions, holidays for {}–{}",
        YEARS.start(),
        YEARS.end()
    )
}

/// A country as [`Region::parse`] looks it up.
struct CountryEntry {
    country: CountryCode,
    code: String,
    name: &'static str,
    /// (`DE-BY`, its `SubDivision`), sorted by code; `National` left out.
    subdivisions: Vec<(String, SubDivision)>,
}

/// The crate's codes are its enums' names (it names its data files after them the same way);
/// digit-led subdivision codes carry a leading `_` (`_1` is Austria's `1`).
fn enum_code(value: &impl fmt::Debug) -> String {
    format!("{value:?}").trim_start_matches('_').to_string()
}

/// The countries by code, built once from the crate's list.
fn index() -> &'static HashMap<String, CountryEntry> {
    static INDEX: LazyLock<HashMap<String, CountryEntry>> = LazyLock::new(|| {
        CountryCode::list_subdivisions()
            .into_values()
            .map(|c| {
                let code = enum_code(&c.code);
                let mut subdivisions: Vec<(String, SubDivision)> = c
                    .subdivisions
                    .iter()
                    .filter(|s| **s != SubDivision::National)
                    .map(|s| (format!("{code}-{}", enum_code(s)), *s))
                    .collect();
                subdivisions.sort_by(|a, b| a.0.cmp(&b.0));
                let entry = CountryEntry {
                    country: c.code,
                    code: code.clone(),
                    name: c.name,
                    subdivisions,
                };
                (code, entry)
            })
            .collect()
    });
    &INDEX
}

/// A region's dates, decoded from the embedded data on the first call for `code` and shared
/// afterwards, so that a person's region parsed on every event costs a map lookup.
fn dates_of(
    code: &str,
    country: CountryCode,
    subdivision: SubDivision,
) -> Result<Arc<Dates>, HolidayError> {
    static LOADED: LazyLock<Mutex<HashMap<String, Arc<Dates>>>> = LazyLock::new(Default::default);
    // A panic elsewhere while holding the lock leaves the map as it was: still usable.
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dates) = loaded.get(code) {
        return Ok(dates.clone());
    }
    let broken = |reason: String| HolidayError::Data {
        code: code.to_string(),
        reason,
    };
    let mut by_subdivision = py_holidays_rs::get_holidays_by_country(country).map_err(broken)?;
    let dates = by_subdivision
        .remove(&subdivision)
        .ok_or_else(|| broken(format!("no dates for {}", enum_code(&subdivision))))?;
    let dates = Arc::new(dates);
    loaded.insert(code.to_string(), dates.clone());
    Ok(dates)
}

#[cfg(test)]
mod tests {
    use chrono::Datelike;

    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn region(code: &str) -> Region {
        Region::parse(code).unwrap()
    }

    #[test]
    fn known_holidays_by_region() {
        let us = region("US");
        assert_eq!(
            us.holiday_name(date(2026, 11, 26)).as_deref(),
            Some("Thanksgiving Day")
        );
        assert!(!us.is_holiday(date(2026, 11, 27)));
        assert_eq!(
            us.holiday_name(date(2026, 12, 25)).as_deref(),
            Some("Christmas Day")
        );

        // Epiphany is a holiday in Bavaria, not in Berlin nor in Germany as a whole.
        let epiphany = date(2027, 1, 6);
        assert_eq!(
            region("DE-BY").holiday_name(epiphany).as_deref(),
            Some("Epiphany")
        );
        assert!(!region("DE-BE").is_holiday(epiphany));
        assert!(!region("DE").is_holiday(epiphany));
        // A subdivision keeps its country's holidays.
        assert!(region("DE-BE").is_holiday(date(2027, 10, 3)));

        let rajyotsava = date(2026, 11, 1);
        assert_eq!(
            region("IN-KA").holiday_name(rajyotsava).as_deref(),
            Some("Karnataka Rajyotsava")
        );
        assert!(!region("IN").is_holiday(rajyotsava));
        assert!(!region("IN-MH").is_holiday(rajyotsava));

        // Scotland's 2 January; 2027-01-02 is a Saturday, so its substitute is Monday the 4th.
        assert!(region("GB-SCT").is_holiday(date(2026, 1, 2)));
        assert!(!region("GB-ENG").is_holiday(date(2026, 1, 2)));
        assert!(region("GB-SCT").is_holiday(date(2027, 1, 4)));

        assert_eq!(
            region("CA-QC").holiday_name(date(2026, 6, 24)).as_deref(),
            Some("Saint John the Baptist Day")
        );
        assert!(!region("CA-ON").is_holiday(date(2026, 6, 24)));
        assert!(region("FR").is_holiday(date(2026, 7, 14)));
        assert!(!region("FR").is_holiday(date(2026, 7, 15)));
    }

    #[test]
    fn the_data_spans_exactly_the_documented_years() {
        // A crate update that changes the span must update YEARS and the docs with it.
        for code in ["US", "DE-BY", "IN-KA"] {
            let r = region(code);
            let first = r.0.dates.keys().next().unwrap();
            let last = r.0.dates.keys().next_back().unwrap();
            assert_eq!(first.year(), *YEARS.start(), "{code}");
            assert_eq!(last.year(), *YEARS.end(), "{code}");
        }
        let us = region("US");
        assert!(!us.is_holiday(date(1999, 12, 25)));
        assert!(!us.is_holiday(date(2051, 12, 25)));
        assert!(us.holiday_name(date(2051, 1, 1)).is_none());
    }

    #[test]
    fn codes_are_read_whatever_their_case_and_spacing() {
        for text in ["DE-BY", "de-by", "De-bY", "  de-by\t", "de - by"] {
            let r = Region::parse(text).unwrap();
            assert_eq!(r.code(), "DE-BY", "{text:?}");
            assert_eq!(r.to_string(), "DE-BY");
            assert_eq!(r, region("DE-BY"));
        }
        assert_eq!(region("us").to_string(), "US");
        assert_eq!("gb-sct".parse::<Region>().unwrap().code(), "GB-SCT");
        // Digit-led subdivisions (Austria's states) read back as they print.
        let vienna = region("AT-9");
        assert_eq!(vienna.code(), "AT-9");
        assert_eq!(region(&vienna.to_string()), vienna);
        assert_ne!(region("DE-BY"), region("DE-BE"));
        // The Italian cities python-holidays lists by name keep its spelling.
        assert_eq!(region("it-andria").code(), "IT-Andria");
        assert_eq!(format!("{:?}", region("DE-BY")), "Region(\"DE-BY\")");
    }

    #[test]
    fn bad_codes_say_what_to_type_instead() {
        assert_eq!(Region::parse("  "), Err(HolidayError::Empty));
        for text in [
            "DE-BY-X",
            "-BY",
            "DE-",
            "D E",
            "DEUTSCHLAND",
            "DE/BY",
            "ü",
            "IT-ABCDEFGHIJKLMNOPQ",
        ] {
            assert!(
                matches!(Region::parse(text), Err(HolidayError::Malformed(_))),
                "{text:?}"
            );
        }
        let err = Region::parse("xx").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`XX` is not a country code I know; use an ISO 3166 code such as `US`, `DE-BY`, \
             `IN-KA`, `GB-SCT`, `FR` or `CA-QC`"
        );
        assert!(
            Region::parse("UK")
                .unwrap_err()
                .to_string()
                .contains("the United Kingdom is `GB`")
        );

        let err = Region::parse("de-xx").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(
                "`DE-XX` is not a subdivision of Germany I know; use `DE` or one of DE-BB, DE-BE,"
            ),
            "{text}"
        );
        assert!(text.contains("DE-BY") && text.contains("DE-TH"), "{text}");

        let err = Region::parse("JP-13").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Japan has no subdivisions with holidays of their own here; use `JP`"
        );
    }

    #[test]
    fn a_region_is_decoded_once_and_shared() {
        // Every parse of a code, and every clone, reads the same dates: the region's data is
        // decoded on the first parse only, however often a loop over days asks.
        let a = region("CA-QC");
        let b = region("ca-qc");
        assert!(Arc::ptr_eq(&a.0.dates, &b.0.dates));
        let c = a.clone();
        assert!(Arc::ptr_eq(&a.0.dates, &c.0.dates));
        // Ten years of days, as a calendar walking forward would ask them.
        let mut day = date(2026, 1, 1);
        let mut holidays = 0;
        while day < date(2036, 1, 1) {
            holidays += usize::from(a.is_holiday(day));
            day = day.succ_opt().unwrap();
        }
        assert_eq!(
            holidays,
            a.holidays_between(date(2026, 1, 1), date(2035, 12, 31))
                .count()
        );
        assert!((80..=150).contains(&holidays), "{holidays}");
    }

    #[test]
    fn holidays_between_lists_dates_in_order() {
        let scotland = region("GB-SCT");
        let listed: Vec<_> = scotland
            .holidays_between(date(2026, 1, 1), date(2026, 1, 2))
            .map(|(d, _)| d)
            .collect();
        assert_eq!(listed, vec![date(2026, 1, 1), date(2026, 1, 2)]);
        assert_eq!(
            scotland
                .holidays_between(date(2026, 1, 2), date(2026, 1, 1))
                .count(),
            0
        );
    }

    #[test]
    fn the_supported_list_covers_the_examples() {
        let countries = supported_countries();
        assert!(countries.len() > 100, "{}", countries.len());
        assert!(countries.windows(2).all(|w| w[0].code < w[1].code));
        let germany = countries.iter().find(|c| c.code == "DE").unwrap();
        assert_eq!(germany.name, "Germany");
        assert!(germany.subdivisions.contains(&"DE-BY".to_string()));
        let india = countries.iter().find(|c| c.code == "IN").unwrap();
        assert!(india.subdivisions.contains(&"IN-KA".to_string()));
        // Every listed code parses back to itself.
        for c in countries
            .iter()
            .filter(|c| ["DE", "GB", "CA"].contains(&c.code.as_str()))
        {
            for code in std::iter::once(&c.code).chain(&c.subdivisions) {
                assert_eq!(region(code).code(), code);
            }
        }
        assert!(supported_summary().contains("2000–2050"));
    }

    #[test]
    fn every_listed_region_has_dates() {
        // A code the list offers but the data lacks would fail at start-up as "this build is
        // broken": catch it here instead, for every country and subdivision (one decode per
        // country; `Region::parse` looks codes up in the same index).
        for country in index().values() {
            let data = py_holidays_rs::get_holidays_by_country(country.country)
                .unwrap_or_else(|e| panic!("{}: {e}", country.code));
            let listed = std::iter::once((&country.code, &SubDivision::National))
                .chain(country.subdivisions.iter().map(|(c, s)| (c, s)));
            for (code, subdivision) in listed {
                // Not "in every year": Ukraine, under martial law, has none from 2023 on.
                assert!(
                    data.get(subdivision).is_some_and(|d| !d.is_empty()),
                    "{code} has no holidays at all"
                );
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn parse_never_panics(text in proptest::prelude::any::<String>()) {
            let _ = Region::parse(&text);
        }

        #[test]
        fn parse_never_panics_on_code_like_text(text in "[a-zA-Z0-9 _-]{0,8}") {
            if let Ok(r) = Region::parse(&text) {
                proptest::prop_assert_eq!(Region::parse(r.code()).unwrap(), r);
            }
        }
    }
}
