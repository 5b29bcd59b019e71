//! A range query's series drawn as a small PNG line chart, for the chats
//! where people would rather look than read numbers (Slack, Discord).
//!
//! Drawn with `plotters` into an in-memory RGB bitmap and encoded with
//! `png`, so nothing touches the disk. Text uses a font embedded in the
//! binary (DejaVu Sans, from Debian's `fonts-dejavu-core`; Bitstream Vera
//! licence with the DejaVu changes in the public domain: see
//! `DejaVuSans.LICENSE` next to this file), so a container without any
//! system fonts still draws titles, axes and legends.

use std::sync::OnceLock;

use plotters::prelude::*;

/// Width of every chart, in pixels: readable inline in a chat thread.
pub const WIDTH: u32 = 800;
/// Height of every chart, in pixels.
pub const HEIGHT: u32 = 300;

/// The font all chart text uses, registered once under [`FONT`].
static FONT_BYTES: &[u8] = include_bytes!("DejaVuSans.ttf");
const FONT: &str = "opsbot-sans";

/// One line: a legend label and its points (Unix seconds, value). Points
/// whose value is not finite (NaN, ±Inf from Prometheus) are gaps.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// What the chart says besides its lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Labels<'a> {
    pub title: &'a str,
    /// The y axis's description (`CPU requested / allocatable`).
    pub y: &'a str,
}

/// Why no chart could be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("nothing to draw: no series has a finite value; check the query in a Prometheus UI")]
    Empty,
    #[error("the chart could not be drawn: {0}")]
    Draw(String),
    #[error("the chart could not be encoded as PNG: {0}")]
    Encode(String),
}

fn register_font() -> Result<(), ChartError> {
    // Registered once per process; a bad font is told on every chart, not
    // only the first.
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(ChartError::Draw(
            "the embedded font is not a valid TrueType font".into(),
        ))
    }
}

/// The x and y ranges that hold every finite point, widened where a range
/// would be empty (one sample, or a flat line) so plotters can scale it.
fn bounds(lines: &[Line]) -> Option<((f64, f64), (f64, f64))> {
    let finite = lines
        .iter()
        .flat_map(|l| l.points.iter())
        .filter(|(t, v)| t.is_finite() && v.is_finite());
    let mut out: Option<((f64, f64), (f64, f64))> = None;
    for &(t, v) in finite {
        let ((x0, x1), (y0, y1)) = out.get_or_insert(((t, t), (v, v)));
        *x0 = x0.min(t);
        *x1 = x1.max(t);
        *y0 = y0.min(v);
        *y1 = y1.max(v);
    }
    out.map(|((x0, x1), (y0, y1))| {
        let x = if x1 > x0 {
            (x0, x1)
        } else {
            (x0 - 30.0, x1 + 30.0)
        };
        // From zero when every value is positive: a usage line at 60%
        // should not look like a cliff because the axis starts at 59%.
        let y0 = if y0 > 0.0 { 0.0 } else { y0 };
        let pad = ((y1 - y0).abs() * 0.05).max(f64::EPSILON.max(y1.abs() * 0.05));
        let y = if y1 > y0 {
            (y0, y1 + pad)
        } else {
            (y0 - 1.0, y1 + 1.0)
        };
        (x, y)
    })
}

/// `HH:MM` in UTC for a window of under two days, else `MM-DD HH:MM`.
fn time_label(t: f64, span: f64) -> String {
    let Some(at) = chrono::DateTime::from_timestamp(t as i64, 0) else {
        return String::new();
    };
    if span < 2.0 * 86400.0 {
        at.format("%H:%M").to_string()
    } else {
        at.format("%m-%d %H:%M").to_string()
    }
}

/// Draw `lines` as a [`WIDTH`]×[`HEIGHT`] PNG: one coloured line per
/// series, a legend of their labels, the title on top, time (UTC) along x.
pub fn render(labels: &Labels<'_>, lines: &[Line]) -> Result<Vec<u8>, ChartError> {
    register_font()?;
    let ((x0, x1), (y0, y1)) = bounds(lines).ok_or(ChartError::Empty)?;
    let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    draw(&mut rgb, labels, lines, (x0..x1, y0..y1)).map_err(ChartError::Draw)?;
    encode(&rgb)
}

fn draw(
    rgb: &mut [u8],
    labels: &Labels<'_>,
    lines: &[Line],
    (x, y): (std::ops::Range<f64>, std::ops::Range<f64>),
) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let root = BitMapBackend::with_buffer(rgb, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let span = x.end - x.start;
    let mut chart = ChartBuilder::on(&root)
        .caption(labels.title, (FONT, 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(x, y)
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_desc("time (UTC)")
        .y_desc(labels.y)
        .x_labels(8)
        .y_labels(6)
        .x_label_formatter(&|t| time_label(*t, span))
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 13))
        .draw()
        .map_err(|x| e(&x))?;
    for (i, line) in lines.iter().enumerate() {
        let colour = Palette99::pick(i).to_rgba();
        // A non-finite value breaks the line instead of dragging it to 0.
        let runs = line
            .points
            .split(|(t, v)| !(t.is_finite() && v.is_finite()))
            .filter(|r| !r.is_empty());
        let mut first = true;
        for run in runs {
            // A lone sample (one point, or one between gaps) would be an
            // invisible line of length zero: it is a dot instead.
            let drawn = if let [point] = run {
                chart
                    .draw_series(std::iter::once(Circle::new(*point, 3, colour.filled())))
                    .map_err(|x| e(&x))?
            } else {
                chart
                    .draw_series(LineSeries::new(run.iter().copied(), colour.stroke_width(2)))
                    .map_err(|x| e(&x))?
            };
            if std::mem::take(&mut first) {
                drawn.label(&line.label).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
                });
            }
        }
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 12))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

fn encode(rgb: &[u8]) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|e| ChartError::Encode(e.to_string()))?;
    writer
        .write_image_data(rgb)
        .map_err(|e| ChartError::Encode(e.to_string()))?;
    writer
        .finish()
        .map_err(|e| ChartError::Encode(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(label: &str, values: &[f64]) -> Line {
        Line {
            label: label.into(),
            points: values
                .iter()
                .enumerate()
                .map(|(i, v)| (1_700_000_000.0 + 60.0 * i as f64, *v))
                .collect(),
        }
    }

    /// Width, height and colour type of a PNG, read by a real decoder.
    fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("a PNG header");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("PNG image data");
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    #[test]
    fn a_chart_of_two_series_is_a_valid_png_of_the_chart_size() {
        let png = render(
            &Labels {
                title: "CPU requests / allocatable",
                y: "ratio",
            },
            &[
                line("pool=user", &[0.2, 0.4, 0.5, 0.45]),
                line("pool=core", &[0.1, 0.1, f64::NAN, 0.3]),
            ],
        )
        .unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let (w, h, pixels) = decode(&png);
        assert_eq!((w, h), (WIDTH, HEIGHT));
        // Something was drawn: not every pixel is the white background.
        assert!(pixels.iter().any(|&b| b < 200), "the chart is blank");
    }

    #[test]
    fn the_two_series_are_drawn_in_different_colours() {
        let png = render(
            &Labels { title: "t", y: "y" },
            &[line("a", &[1.0, 2.0]), line("b", &[2.0, 1.0])],
        )
        .unwrap();
        let (_, _, pixels) = decode(&png);
        let pick = |i: usize| {
            let c = Palette99::pick(i).to_rgba();
            (c.0, c.1, c.2)
        };
        let has = |(r, g, b): (u8, u8, u8)| pixels.chunks(3).any(|p| p == [r, g, b]);
        assert!(has(pick(0)) && has(pick(1)), "both series' colours appear");
    }

    #[test]
    fn series_without_a_finite_value_are_refused_with_what_to_check() {
        let e = render(&Labels { title: "t", y: "y" }, &[line("a", &[f64::NAN])]).unwrap_err();
        assert!(matches!(e, ChartError::Empty), "{e}");
        assert!(e.to_string().contains("check the query"), "{e}");
    }

    #[test]
    fn a_single_sample_is_drawn_as_a_visible_dot() {
        let png = render(&Labels { title: "t", y: "y" }, &[line("a", &[3.0])]).unwrap();
        let (w, _, pixels) = decode(&png);
        assert_eq!(w, WIDTH);
        let c = Palette99::pick(0).to_rgba();
        // The lone sample sits mid-plot (its window is widened around it),
        // far right of the legend in the upper left corner.
        let middle = pixels
            .chunks(3)
            .enumerate()
            .filter(|(i, p)| {
                let x = (*i as u32) % WIDTH;
                (WIDTH / 2 - 60..WIDTH / 2 + 60).contains(&x) && *p == [c.0, c.1, c.2]
            })
            .count();
        assert!(middle > 5, "{middle} pixels of the series colour mid-plot");
    }
}
