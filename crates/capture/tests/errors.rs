//! Each error case of the face pipeline, on synthetic inputs.

mod common;

use sanctuary_capture::{CaptureError, FaceOptions, RgbImage};

#[test]
fn corrupt_file_is_unreadable() {
    let d = common::temp_dir("corrupt");
    let p = d.join("broken.pgm");
    // A PGM header promising more pixels than present.
    std::fs::write(&p, b"P5\n92 112\n255\n\x01\x02\x03").expect("write");
    match RgbImage::open(&p) {
        Err(CaptureError::ImageDecode { path, .. }) => assert_eq!(path.as_deref(), Some(&*p)),
        other => panic!("expected ImageDecode, got {other:?}"),
    }
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn text_file_is_not_an_image() {
    assert!(matches!(
        RgbImage::decode(b"hello, I am not an image\n"),
        Err(CaptureError::ImageDecode { path: None, .. })
    ));
}

#[test]
fn missing_file_is_io_error() {
    assert!(matches!(
        RgbImage::open("/nonexistent/face.png"),
        Err(CaptureError::Io { .. })
    ));
}

#[test]
fn blank_image_has_no_face() {
    let img = RgbImage::from_raw(320, 240, vec![200; 320 * 240 * 3]).expect("image");
    assert!(matches!(
        common::pipeline().extract(&img),
        Err(CaptureError::NoFace)
    ));
}

#[test]
fn tiny_image_is_too_small_or_faceless() {
    let img = RgbImage::from_raw(12, 12, vec![90; 12 * 12 * 3]).expect("image");
    assert!(matches!(
        common::pipeline().extract(&img),
        Err(CaptureError::NoFace | CaptureError::FaceTooSmall { .. })
    ));
    // With the whole-frame fallback the 12 px "face" is below the 32 px minimum.
    let mut p = common::pipeline().clone();
    p.set_options(FaceOptions {
        assume_cropped: true,
        ..FaceOptions::default()
    })
    .expect("valid options");
    assert!(matches!(
        p.extract(&img),
        Err(CaptureError::FaceTooSmall { min_px, .. }) if min_px == 32.0
    ));
}

#[test]
fn zero_sized_and_mismatched_buffers_are_rejected() {
    assert!(matches!(
        RgbImage::from_raw(0, 10, vec![]),
        Err(CaptureError::ImageDimensions { .. })
    ));
    assert!(matches!(
        RgbImage::from_raw(2, 2, vec![0; 5]),
        Err(CaptureError::InvalidArgument(_))
    ));
}

#[test]
fn png_and_bmp_decode() {
    // Round-trip a small grey image through the encoders the `image` crate ships.
    let d = common::temp_dir("formats");
    let grey = image::GrayImage::from_fn(16, 8, |x, y| image::Luma([(x * 10 + y) as u8]));
    for ext in ["png", "bmp", "pgm"] {
        let p = d.join(format!("g.{ext}"));
        grey.save(&p).expect("save");
        let img = RgbImage::open(&p).expect("decodes");
        assert_eq!((img.width(), img.height()), (16, 8));
        assert_eq!(&img.as_raw()[3..6], &[10, 10, 10]);
    }
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn out_of_range_options_are_rejected() {
    let mut p = common::pipeline().clone();
    let bad = FaceOptions {
        detection_threshold: 1.5,
        ..FaceOptions::default()
    };
    assert!(matches!(
        p.set_options(bad),
        Err(CaptureError::InvalidArgument(_))
    ));
    assert!(sanctuary_capture::Capture::new(p, 2.0).is_err());
}
