//! The e-mail's chart as a PNG image: bars drawn into an RGB raster and encoded with the
//! `png` crate. Mail clients show an attached `image/png` referenced by `cid:`; most (Gmail,
//! Outlook) drop inline SVG. The image has no text (no font to ship): its title and
//! figures are the HTML around it and its `alt` text.

/// Width and height of the chart image, in pixels.
pub const WIDTH: u32 = 600;
pub const HEIGHT: u32 = 200;
/// Empty margin around the plot, in pixels.
pub const PAD: u32 = 20;

const BACKGROUND: [u8; 3] = [0xff, 0xff, 0xff];
const BAR: [u8; 3] = [0x4f, 0x7c, 0xac];
const AXIS: [u8; 3] = [0x99, 0x99, 0x99];

/// A bar chart of `values`, one bar per value, the largest full height (negative values
/// draw no bar), as PNG bytes.
pub fn bar_chart(values: &[f64]) -> Result<Vec<u8>, String> {
    let (w, h) = (WIDTH as usize, HEIGHT as usize);
    let pad = PAD as usize;
    let mut pixels = BACKGROUND.repeat(w * h);
    let mut fill = |x0: usize, x1: usize, y0: usize, y1: usize, colour: [u8; 3]| {
        for y in y0..y1.min(h) {
            for x in x0..x1.min(w) {
                let i = (y * w + x) * 3;
                pixels[i..i + 3].copy_from_slice(&colour);
            }
        }
    };
    let plot_height = (h - 2 * pad) as f64;
    let max = values.iter().copied().fold(0.0_f64, f64::max);
    let slot = (w - 2 * pad) as f64 / values.len().max(1) as f64;
    let bar_width = (slot * 0.8).max(1.0);
    for (i, v) in values.iter().enumerate() {
        if max <= 0.0 || !v.is_finite() || *v <= 0.0 {
            continue;
        }
        let bar_height = ((v / max) * plot_height).round().max(1.0) as usize;
        let x0 = pad + (i as f64 * slot).round() as usize;
        let x1 = x0 + bar_width.round() as usize;
        fill(x0, x1, h - pad - bar_height, h - pad, BAR);
    }
    // The baseline.
    fill(pad, w - pad, h - pad, h - pad + 1, AXIS);
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer
        .write_image_data(&pixels)
        .map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Decodes the PNG and returns its RGB pixels.
    fn decode(bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info, buf)
    }

    /// The height of the bar whose slot starts at column `x` (bar pixels in that column).
    fn bar_height(info: &png::OutputInfo, pixels: &[u8], x: usize) -> usize {
        (0..info.height as usize)
            .filter(|y| {
                let i = (y * info.width as usize + x) * 3;
                pixels[i..i + 3] == BAR
            })
            .count()
    }

    #[test]
    fn bars_are_as_tall_as_their_values_against_the_largest() {
        let (info, pixels) = decode(&bar_chart(&[10.0, 40.0, 0.0, 20.0]).unwrap());
        assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
        assert_eq!(info.color_type, png::ColorType::Rgb);
        let slot = (WIDTH - 2 * PAD) as usize / 4;
        let column = |i: usize| PAD as usize + i * slot + 2;
        let plot = (HEIGHT - 2 * PAD) as usize;
        assert_eq!(
            bar_height(&info, &pixels, column(1)),
            plot,
            "the largest is full height"
        );
        assert_eq!(bar_height(&info, &pixels, column(0)), plot / 4);
        assert_eq!(bar_height(&info, &pixels, column(3)), plot / 2);
        assert_eq!(
            bar_height(&info, &pixels, column(2)),
            0,
            "zero draws no bar"
        );
    }

    #[test]
    fn an_all_zero_or_empty_series_is_an_empty_chart_not_an_error() {
        for values in [&[][..], &[0.0, 0.0][..], &[-5.0][..]] {
            let (info, pixels) = decode(&bar_chart(values).unwrap());
            assert!(
                (0..info.width as usize).all(|x| bar_height(&info, &pixels, x) == 0),
                "{values:?}"
            );
        }
    }
}
