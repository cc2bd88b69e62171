use super::*;

fn pseudo_random_bits(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x & 1) as u8
        })
        .collect()
}

fn shifted(code: &IrisCode, shift: usize) -> IrisCode {
    let cell = IRIS_BITS_PER_CELL;
    let mut c = vec![0u8; IRIS_CODE_BITS];
    let mut m = vec![0u8; IRIS_CODE_BITS];
    for r in 0..IRIS_ROWS {
        for col in 0..IRIS_COLS {
            let dst = (r * IRIS_COLS + (col + shift) % IRIS_COLS) * cell;
            let src = (r * IRIS_COLS + col) * cell;
            c[dst..dst + cell].copy_from_slice(&code.code()[src..src + cell]);
            m[dst..dst + cell].copy_from_slice(&code.mask()[src..src + cell]);
        }
    }
    code_from_bits(c, m).expect("valid bits")
}

#[test]
fn layout_is_fixed_and_the_networks_default() {
    assert_eq!(IRIS_CODE_BITS, 12_800);
    let d = sanctuary_template::IrisParams::default();
    assert_eq!(
        (d.rows, d.cols, d.bits_per_cell),
        (IRIS_ROWS, IRIS_COLS, IRIS_BITS_PER_CELL)
    );
    assert!(code_from_bits(vec![0; 10], vec![0; 10]).is_err());
    assert!(code_from_bits(vec![2; IRIS_CODE_BITS], vec![1; IRIS_CODE_BITS]).is_err());
}

#[test]
fn rotation_is_found_by_the_shift_search() {
    let a = code_from_bits(
        pseudo_random_bits(7, IRIS_CODE_BITS),
        vec![1; IRIS_CODE_BITS],
    )
    .expect("valid");
    let b = shifted(&a, 5);
    assert_eq!(hamming_distance_at(&a, &b, 5), Some(0.0));
    let unshifted = hamming_distance_at(&a, &b, 0).expect("bits in common");
    assert!(unshifted > 0.4, "{unshifted}");
    assert_eq!(hamming_distance(&a, &b, 15), 0.0);
    // Outside the search range the rotation is not found.
    let far = shifted(&a, 40);
    assert!(hamming_distance(&a, &far, 15) > 0.4);
}

#[test]
fn mask_excludes_bits() {
    let code_a = vec![0u8; IRIS_CODE_BITS];
    let mut code_b = vec![0u8; IRIS_CODE_BITS];
    let mut mask = vec![1u8; IRIS_CODE_BITS];
    // Half the bits differ, but those are masked out in b.
    for i in 0..IRIS_CODE_BITS / 2 {
        code_b[i] = 1;
        mask[i] = 0;
    }
    let a = code_from_bits(code_a, vec![1; IRIS_CODE_BITS]).expect("valid");
    let b = code_from_bits(code_b, mask).expect("valid");
    assert_eq!(hamming_distance_at(&a, &b, 0), Some(0.0));
    // No usable bit at all is refused; no bit in common gives no distance.
    assert!(code_from_bits(vec![0; IRIS_CODE_BITS], vec![0; IRIS_CODE_BITS]).is_err());
    let half = |first: bool| {
        (0..IRIS_CODE_BITS)
            .map(|i| u8::from((i < IRIS_CODE_BITS / 2) == first))
            .collect::<Vec<u8>>()
    };
    let front = code_from_bits(vec![0; IRIS_CODE_BITS], half(true)).expect("valid");
    let back = code_from_bits(vec![0; IRIS_CODE_BITS], half(false)).expect("valid");
    assert_eq!(hamming_distance_at(&front, &back, 0), None);
    assert_eq!(hamming_distance(&front, &back, 0), 1.0);
}

fn synthetic_strip(phase: f32, width: u32) -> RgbImage {
    let h = 48u32;
    let mut data = Vec::with_capacity((width * h * 3) as usize);
    for y in 0..h {
        for x in 0..width {
            let t = x as f32 / width as f32 * std::f32::consts::TAU;
            let v = 128.0
                + 40.0 * (t * 25.0 + phase + y as f32 * 0.3).sin()
                + 30.0 * (t * 13.0 - y as f32 * 0.2).cos()
                + 20.0 * (t * 51.0 + y as f32).sin();
            let v = v.clamp(0.0, 255.0) as u8;
            data.extend_from_slice(&[v, v, v]);
        }
    }
    RgbImage::from_raw(width, h, data).expect("valid image")
}

#[test]
fn encoder_output_is_binary_and_mostly_usable() {
    let enc = IrisEncoder::new(IrisOptions::default()).expect("valid options");
    let code = enc.encode(&synthetic_strip(0.0, 432)).expect("encodes");
    assert!(code.code().iter().chain(code.mask()).all(|&b| b <= 1));
    assert!(code.usable_fraction() > 0.5, "{}", code.usable_fraction());
    // Deterministic.
    let again = enc.encode(&synthetic_strip(0.0, 432)).expect("encodes");
    assert_eq!(code, again);
}

#[test]
fn encoder_rejects_bad_sizes_and_options() {
    let enc = IrisEncoder::new(IrisOptions::default()).expect("valid options");
    let tall = RgbImage::from_raw(20, 100, vec![0; 20 * 100 * 3]).expect("image");
    assert!(matches!(
        enc.encode(&tall),
        Err(CaptureError::ImageDimensions { .. })
    ));
    let bad = IrisOptions {
        sigma_on_f: 1.5,
        ..IrisOptions::default()
    };
    assert!(IrisEncoder::new(bad).is_err());
}

#[test]
fn different_textures_are_far_apart() {
    let enc = IrisEncoder::new(IrisOptions::default()).expect("valid options");
    let a = enc.encode(&synthetic_strip(0.0, 432)).expect("encodes");
    let b = enc.encode(&synthetic_strip(2.0, 432)).expect("encodes");
    let same = hamming_distance(&a, &a, 15);
    let diff = hamming_distance_at(&a, &b, 0).expect("bits in common");
    assert_eq!(same, 0.0);
    assert!(diff > 0.1, "{diff}");
}
