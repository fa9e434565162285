//! What people do with the bot, per feature: its command parser, its flow (what happens on an
//! event, a command or a timer) and its answers. Features use the engine and the store; the
//! engine hands them the events and timers they own, and the dispatcher the commands, buttons
//! and forms they declare.

pub mod insights;
#[cfg(test)]
mod parser_props;
pub mod rfc;
pub mod sla;
pub mod standup;
pub mod weekly;

/// Every feature, for the engine to hand its events and timers to, and the dispatcher its
/// commands, buttons and forms.
pub fn all() -> Vec<std::sync::Arc<dyn crate::engine::Feature>> {
    vec![
        std::sync::Arc::new(rfc::Rfcs),
        std::sync::Arc::new(standup::Standups),
        std::sync::Arc::new(sla::Sla),
        std::sync::Arc::new(insights::Insights),
        std::sync::Arc::new(weekly::Weekly),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What each feature declares, by kind: a command, a button prefix, a form prefix.
    fn declared() -> Vec<(&'static str, Vec<&'static str>)> {
        let features = all();
        let gather = |pick: fn(&dyn crate::engine::Feature) -> &'static [&'static str]| {
            features
                .iter()
                .flat_map(|f| pick(f.as_ref()).iter().copied())
                .collect::<Vec<_>>()
        };
        vec![
            ("command", gather(|f| f.commands())),
            ("button", gather(|f| f.actions())),
            ("form", gather(|f| f.views())),
        ]
    }

    #[test]
    fn every_command_button_and_form_has_exactly_one_feature() {
        for (kind, ids) in declared() {
            for (i, a) in ids.iter().enumerate() {
                for b in &ids[i + 1..] {
                    let overlap = if kind == "command" {
                        a == b
                    } else {
                        a.starts_with(b) || b.starts_with(a)
                    };
                    assert!(!overlap, "two features claim the {kind} {a} / {b}");
                }
            }
        }
        let commands = &declared()[0].1;
        for command in ["/rfc", "/decisions", "/standup", "/sla"] {
            assert!(commands.contains(&command), "nobody answers {command}");
        }
    }
}
