//! Robust bands and the anomaly rules (see the module doc of [`crate::digest`]).

use serde::Serialize;

/// One day's figures; `day` counts days since 1970-01-01 (a Thursday).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayFigures {
    pub day: i64,
    pub revenue: f64,
    pub orders: f64,
}

/// The thresholds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    /// Width of the band in scaled MADs.
    pub k: f64,
    /// Same-weekday days needed for a band.
    pub min_history: usize,
    /// Same-weekday days looked back at, at most.
    pub weeks: usize,
    /// Lowest MAD, as a fraction of the median.
    pub mad_floor: f64,
    /// Days with sales a product needs in the history to count as stopped.
    pub min_active_days: usize,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            k: 3.0,
            min_history: 4,
            weeks: 8,
            mad_floor: 0.05,
            min_active_days: 3,
        }
    }
}

/// `median ± k · MAD`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Band {
    pub median: f64,
    pub mad: f64,
    pub low: f64,
    pub high: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayAnomaly {
    pub day: i64,
    /// `revenue` or `orders`.
    pub metric: &'static str,
    pub value: f64,
    pub band: Band,
    /// `above` or `below`.
    pub direction: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoppedProduct {
    pub product_id: String,
    /// Days with sales in the history.
    pub active_days: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Anomalies {
    pub days: Vec<DayAnomaly>,
    pub stopped_products: Vec<StoppedProduct>,
}

const MAD_SCALE: f64 = 1.4826;

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// The robust band of `values` (none when fewer than `rules.min_history`).
pub fn band(values: &[f64], rules: &Rules) -> Option<Band> {
    if values.len() < rules.min_history.max(1) {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let m = median(&v);
    let mut dev: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    dev.sort_by(f64::total_cmp);
    let mad = (median(&dev) * MAD_SCALE).max(m.abs() * rules.mad_floor);
    Some(Band {
        median: m,
        mad,
        low: m - rules.k * mad,
        high: m + rules.k * mad,
    })
}

/// The anomalies of the period's days (`period`, days since the epoch, first to last
/// included) against `history` (any days before them; missing days are days without
/// sales only if the caller lists them with zeros), and the products whose sales stopped
/// (`products`: id and one unit count per day, aligned with `product_days`).
pub fn anomalies(
    history: &[DayFigures],
    period: (i64, i64),
    products: &[(String, Vec<f64>)],
    product_days: &[i64],
    rules: &Rules,
) -> Anomalies {
    let mut out = Anomalies::default();
    for d in history
        .iter()
        .filter(|d| d.day >= period.0 && d.day <= period.1)
    {
        let mut same: Vec<&DayFigures> = history
            .iter()
            .filter(|h| h.day < period.0 && (d.day - h.day) % 7 == 0)
            .collect();
        same.sort_by_key(|h| std::cmp::Reverse(h.day));
        same.truncate(rules.weeks);
        for (metric, value, pick) in [
            (
                "revenue",
                d.revenue,
                (|h: &DayFigures| h.revenue) as fn(&DayFigures) -> f64,
            ),
            ("orders", d.orders, |h: &DayFigures| h.orders),
        ] {
            let values: Vec<f64> = same.iter().map(|h| pick(h)).collect();
            let Some(b) = band(&values, rules) else {
                continue;
            };
            let direction = if value < b.low {
                "below"
            } else if value > b.high {
                "above"
            } else {
                continue;
            };
            out.days.push(DayAnomaly {
                day: d.day,
                metric,
                value,
                band: b,
                direction,
            });
        }
    }
    for (id, units) in products {
        let (mut active, mut in_period) = (0usize, 0.0f64);
        for (day, u) in product_days.iter().zip(units) {
            if *day >= period.0 && *day <= period.1 {
                in_period += u;
            } else if *day < period.0 && *u > 0.0 {
                active += 1;
            }
        }
        if active >= rules.min_active_days && in_period <= 0.0 {
            out.stopped_products.push(StoppedProduct {
                product_id: id.clone(),
                active_days: active,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Eight weeks of history then one period week; Mondays (day % 7 == 4) sell more.
    fn weeks(period: &[(f64, f64)]) -> (Vec<DayFigures>, (i64, i64)) {
        let start = 20_000 - 20_000 % 7 + 4; // a Monday
        let mut days = Vec::new();
        for i in 0..56 {
            let monday = i % 7 == 0;
            let wobble = (i % 3) as f64;
            days.push(DayFigures {
                day: start + i,
                revenue: if monday { 2000.0 } else { 1000.0 } + 10.0 * wobble,
                orders: if monday { 40.0 } else { 20.0 } + wobble,
            });
        }
        let first = start + 56;
        for (i, (revenue, orders)) in period.iter().enumerate() {
            days.push(DayFigures {
                day: first + i as i64,
                revenue: *revenue,
                orders: *orders,
            });
        }
        (days, (first, first + period.len() as i64 - 1))
    }

    #[test]
    fn the_band_is_median_plus_minus_k_scaled_mads_and_ignores_one_outlier() {
        let r = Rules::default();
        let b = band(&[10.0, 11.0, 12.0, 13.0, 1000.0], &r).unwrap();
        assert_eq!(b.median, 12.0);
        assert!((b.mad - 1.4826).abs() < 1e-9, "{b:?}");
        assert!((b.high - (12.0 + 3.0 * 1.4826)).abs() < 1e-9);
        assert_eq!(band(&[1.0, 2.0, 3.0], &r), None, "too little history");
        // A flat history: the floor (5 % of the median) keeps the band open.
        let flat = band(&[100.0; 6], &r).unwrap();
        assert_eq!((flat.low, flat.high), (85.0, 115.0));
    }

    #[test]
    fn a_normal_week_has_no_anomaly_and_a_monday_like_a_tuesday_is_one() {
        let normal = [
            (2010.0, 41.0),
            (1000.0, 20.0),
            (1010.0, 21.0),
            (1020.0, 22.0),
            (1000.0, 20.0),
            (1010.0, 21.0),
            (1020.0, 22.0),
        ];
        let (h, p) = weeks(&normal);
        assert_eq!(
            anomalies(&h, p, &[], &[], &Rules::default()),
            Anomalies::default()
        );
        // Monday at a weekday's level: low for a Monday, though normal for any other day.
        let mut slow = normal;
        slow[0] = (1000.0, 20.0);
        let (h, p) = weeks(&slow);
        let a = anomalies(&h, p, &[], &[], &Rules::default());
        let found: Vec<(i64, &str, &str)> = a
            .days
            .iter()
            .map(|d| (d.day - p.0, d.metric, d.direction))
            .collect();
        assert_eq!(found, vec![(0, "revenue", "below"), (0, "orders", "below")]);
        // A spike on Wednesday.
        let mut spike = normal;
        spike[2] = (5000.0, 21.0);
        let (h, p) = weeks(&spike);
        let a = anomalies(&h, p, &[], &[], &Rules::default());
        assert_eq!(a.days.len(), 1);
        assert_eq!((a.days[0].day - p.0, a.days[0].direction), (2, "above"));
    }

    #[test]
    fn a_product_whose_sales_stop_is_found_and_a_rare_one_is_not() {
        let days: Vec<i64> = (0..14).collect();
        let steady: Vec<f64> = (0..14).map(|d| if d < 7 { 2.0 } else { 0.0 }).collect();
        let rare: Vec<f64> = (0..14).map(|d| if d == 1 { 1.0 } else { 0.0 }).collect();
        let still: Vec<f64> = vec![1.0; 14];
        let products = vec![
            ("p_steady".to_owned(), steady),
            ("p_rare".to_owned(), rare),
            ("p_still".to_owned(), still),
        ];
        let a = anomalies(&[], (7, 13), &products, &days, &Rules::default());
        assert_eq!(
            a.stopped_products,
            vec![StoppedProduct {
                product_id: "p_steady".into(),
                active_days: 7
            }]
        );
    }
}
