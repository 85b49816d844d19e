//! `hamctrl condition ENTITY NAME TYPE [flags] [filters]`.

use ham_client::{ConditionType, flags};

use super::{CtlError, CtlResult, Ctx, usage};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Entity name (`@global` = the node's global entity).
    pub entity: String,
    /// Condition name.
    pub name: String,
    /// death, abnormaldeath, detach, attach, hbeatmissedlow, hbeatmissedhigh,
    /// restart, raise, state, any, nodedown, escalate (QNX names such as
    /// CONDDEATH are accepted too).
    #[arg(value_parser = parse_type)]
    pub kind: ConditionType,
    /// Keep the condition after the entity restarts (HREARMAFTERRESTART).
    #[arg(long)]
    pub rearm: bool,
    /// Run on the no-wait executor; may hold no waitfor (HCONDNOWAIT).
    #[arg(long)]
    pub nowait: bool,
    /// Run on its own executor (HCONDINDEPENDENT).
    #[arg(long)]
    pub independent: bool,
    /// RAISE: type filter (number or `any`).
    #[arg(long, allow_hyphen_values = true)]
    pub rtype: Option<String>,
    /// RAISE: class filter (number or `any`).
    #[arg(long, allow_hyphen_values = true)]
    pub rclass: Option<String>,
    /// RAISE: severity filter (number or `any`).
    #[arg(long, allow_hyphen_values = true)]
    pub rseverity: Option<String>,
    /// STATE: from filter: a state, `any`, or with --from-set a list `1,3`.
    #[arg(long, allow_hyphen_values = true)]
    pub from: Option<String>,
    /// STATE: to filter: a state, `any`, or with --to-set a list `1,3`.
    #[arg(long, allow_hyphen_values = true)]
    pub to: Option<String>,
    /// STATE: the from filter is a set (HCONDSTATEFROMSET).
    #[arg(long)]
    pub from_set: bool,
    /// STATE: the to filter is a set (HCONDSTATETOSET).
    #[arg(long)]
    pub to_set: bool,
    /// STATE: invert the from filter (HCONDSTATEFROMINV).
    #[arg(long)]
    pub from_inv: bool,
    /// STATE: invert the to filter (HCONDSTATETOINV).
    #[arg(long)]
    pub to_inv: bool,
}

/// Parses a condition type by our or the QNX name.
pub fn parse_type(text: &str) -> Result<ConditionType, String> {
    let lower = text.to_ascii_lowercase().replace(['-', '_'], "");
    let name = lower.strip_prefix("cond").unwrap_or(&lower);
    Ok(match name {
        "death" => ConditionType::Death,
        "abnormaldeath" => ConditionType::Abnormaldeath,
        "detach" => ConditionType::Detach,
        "attach" => ConditionType::Attach,
        "hbeatmissedlow" => ConditionType::Hbeatmissedlow,
        "hbeatmissedhigh" => ConditionType::Hbeatmissedhigh,
        "restart" => ConditionType::Restart,
        "raise" => ConditionType::Raise,
        "state" => ConditionType::State,
        "any" => ConditionType::Any,
        "nodedown" => ConditionType::Nodedown,
        "escalate" => ConditionType::Escalate,
        _ => return Err(format!("unknown condition type {text:?}")),
    })
}

/// A RAISE filter: a number or `any` (-1).
fn raise_filter(text: Option<&str>) -> Result<i32, CtlError> {
    match text {
        None => Ok(-1),
        Some(t) if t.eq_ignore_ascii_case("any") => Ok(-1),
        Some(t) => t
            .parse()
            .map_err(|_| usage(format!("bad raise filter {t:?}"))),
    }
}

/// A STATE filter: a value or `any`, or with `set` a list of states 0..63.
pub fn state_filter(text: Option<&str>, set: bool) -> Result<i64, CtlError> {
    let Some(text) = text else {
        return Ok(flags::CONDSTATEANY);
    };
    let bad = || usage(format!("bad state filter {text:?}"));
    if set {
        let states = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<u8>().ok().filter(|n| *n < 64))
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(bad)?;
        Ok(flags::state_set(&states))
    } else if text.eq_ignore_ascii_case("any") {
        Ok(flags::CONDSTATEANY)
    } else {
        text.parse().map_err(|_| bad())
    }
}

impl Args {
    fn flags(&self) -> u32 {
        [
            (self.rearm, flags::HREARMAFTERRESTART),
            (self.nowait, flags::HCONDNOWAIT),
            (self.independent, flags::HCONDINDEPENDENT),
            (self.from_set, flags::HCONDSTATEFROMSET),
            (self.to_set, flags::HCONDSTATETOSET),
            (self.from_inv, flags::HCONDSTATEFROMINV),
            (self.to_inv, flags::HCONDSTATETOINV),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .fold(0, |acc, (_, bit)| acc | bit)
    }

    pub async fn run(self, ctx: &Ctx) -> CtlResult {
        let raise_given = self.rtype.is_some() || self.rclass.is_some() || self.rseverity.is_some();
        let state_given = self.from.is_some()
            || self.to.is_some()
            || self.from_set
            || self.to_set
            || self.from_inv
            || self.to_inv;
        if raise_given && self.kind != ConditionType::Raise {
            return Err(usage("--rtype/--rclass/--rseverity need type raise"));
        }
        if state_given && self.kind != ConditionType::State {
            return Err(usage("--from/--to and the state flags need type state"));
        }
        let flags = self.flags();
        match self.kind {
            ConditionType::Raise => {
                let rtype = raise_filter(self.rtype.as_deref())?;
                let rclass = raise_filter(self.rclass.as_deref())?;
                let rseverity = raise_filter(self.rseverity.as_deref())?;
                let entity = ctx.entity(&self.entity).await?;
                ctx.ham
                    .condition_raise(&entity, &self.name, rtype, rclass, rseverity, flags)
                    .await?;
            }
            ConditionType::State => {
                let from = state_filter(self.from.as_deref(), self.from_set)?;
                let to = state_filter(self.to.as_deref(), self.to_set)?;
                let entity = ctx.entity(&self.entity).await?;
                ctx.ham
                    .condition_state(&entity, &self.name, from, to, flags)
                    .await?;
            }
            kind => {
                let entity = ctx.entity(&self.entity).await?;
                ctx.ham.condition(&entity, kind, &self.name, flags).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k1_type_names() {
        assert_eq!(parse_type("death"), Ok(ConditionType::Death));
        assert_eq!(
            parse_type("CONDABNORMALDEATH"),
            Ok(ConditionType::Abnormaldeath)
        );
        assert_eq!(
            parse_type("hbeat-missed-high"),
            Ok(ConditionType::Hbeatmissedhigh)
        );
        assert_eq!(parse_type("NodeDown"), Ok(ConditionType::Nodedown));
        assert!(parse_type("nope").is_err());
    }

    #[test]
    fn k6_state_filters() {
        assert_eq!(state_filter(None, false).ok(), Some(-1));
        assert_eq!(state_filter(Some("any"), false).ok(), Some(-1));
        assert_eq!(state_filter(Some("7"), false).ok(), Some(7));
        assert_eq!(state_filter(Some("0,2"), true).ok(), Some(0b101));
        assert!(state_filter(Some("64"), true).is_err());
        assert!(state_filter(Some("x"), false).is_err());
    }
}
