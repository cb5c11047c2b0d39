//! Tests of the multiplexer: frame reading, and the mux against a fake single-client swtpm.

use std::io::{self, Cursor, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::{read_frame, TpmMux, MAX_FRAME};

fn frame(tag: u16, code: u32, body: &[u8]) -> Vec<u8> {
    let size = u32::try_from(10 + body.len()).unwrap();
    let mut out = Vec::new();
    out.extend_from_slice(&tag.to_be_bytes());
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// TPM2_GetRandom(8).
fn get_random() -> Vec<u8> {
    frame(0x8001, 0x0000_017B, &8u16.to_be_bytes())
}

/// A reader that returns one byte per `read`, as a slow socket may.
struct Trickle(Cursor<Vec<u8>>);

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match buf.first_mut() {
            Some(slot) => self.0.read(std::slice::from_mut(slot)),
            None => Ok(0),
        }
    }
}

#[test]
fn read_frame_takes_exactly_one_frame_and_leaves_the_next() {
    let first = get_random();
    let second = frame(0x8001, 0x0000_0181, &[]);
    let mut input = Cursor::new([first.clone(), second.clone()].concat());
    assert_eq!(read_frame(&mut input).unwrap(), Some(first));
    assert_eq!(read_frame(&mut input).unwrap(), Some(second));
    assert_eq!(read_frame(&mut input).unwrap(), None);
}

#[test]
fn read_frame_reassembles_a_frame_delivered_byte_by_byte() {
    let command = frame(0x8002, 0x0000_0182, &[7; 300]);
    let mut input = Trickle(Cursor::new(command.clone()));
    assert_eq!(read_frame(&mut input).unwrap(), Some(command));
}

#[test]
fn read_frame_reports_clean_end_of_stream_as_none() {
    assert_eq!(read_frame(&mut Cursor::new(Vec::new())).unwrap(), None);
}

#[test]
fn read_frame_rejects_a_stream_ending_inside_the_header() {
    let err = read_frame(&mut Cursor::new(vec![0x80, 0x01, 0, 0])).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
}

#[test]
fn read_frame_rejects_a_stream_ending_inside_the_body() {
    let mut command = get_random();
    command.pop();
    let err = read_frame(&mut Cursor::new(command)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
}

#[test]
fn read_frame_rejects_sizes_smaller_than_the_header_or_larger_than_the_limit() {
    let mut tiny = get_random();
    tiny.splice(2..6, 9u32.to_be_bytes());
    let err = read_frame(&mut Cursor::new(tiny)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    let huge = u32::try_from(MAX_FRAME + 1).unwrap();
    let mut big = get_random();
    big.splice(2..6, huge.to_be_bytes());
    let err = read_frame(&mut Cursor::new(big)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}

/// A fake swtpm: serves one data connection at a time (like swtpm), answering every command with
/// rc 0 and the command code echoed as a 4-byte body; its control port answers every request with
/// a 4-byte zero. Returns the data port (control is data + 1).
fn fake_swtpm() -> u16 {
    let (data, ctrl) = loop {
        let data = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = data.local_addr().unwrap().port();
        if let Ok(ctrl) = TcpListener::bind((Ipv4Addr::LOCALHOST, port.wrapping_add(1))) {
            break (data, ctrl);
        }
    };
    let port = data.local_addr().unwrap().port();
    thread::spawn(move || {
        for conn in data.incoming() {
            let mut conn = conn.unwrap();
            while let Ok(Some(command)) = read_frame(&mut conn) {
                let code = command.get(6..10).unwrap().to_vec();
                conn.write_all(&frame(0x8001, 0, &code)).unwrap();
            }
        }
    });
    thread::spawn(move || {
        for conn in ctrl.incoming() {
            let mut conn = conn.unwrap();
            let mut buf = [0u8; 64];
            while matches!(conn.read(&mut buf), Ok(n) if n > 0) {
                conn.write_all(&[0; 4]).unwrap();
            }
        }
    });
    port
}

fn transact(stream: &mut TcpStream, command: &[u8]) -> Vec<u8> {
    stream.write_all(command).unwrap();
    read_frame(stream).unwrap().unwrap()
}

#[test]
fn mux_answers_a_second_client_while_the_first_keeps_its_connection() {
    let mux = TpmMux::start(None, 0, fake_swtpm()).unwrap();
    let (port, _) = mux.ports().unwrap();
    let mut holder = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    holder
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let response = transact(&mut holder, &get_random());
    assert_eq!(response, frame(0x8001, 0, &0x0000_017Bu32.to_be_bytes()));

    let mut second = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let response = transact(&mut second, &frame(0x8001, 0x0000_0182, &[1, 2]));
    assert_eq!(response, frame(0x8001, 0, &0x0000_0182u32.to_be_bytes()));

    // The first connection still works after the second one came and went.
    drop(second);
    transact(&mut holder, &get_random());
    assert_eq!(mux.commands_forwarded(), 3);
}

#[test]
fn mux_proxies_the_control_port() {
    let mux = TpmMux::start(None, 0, fake_swtpm()).unwrap();
    let (_, ctrl) = mux.ports().unwrap();
    let mut client = TcpStream::connect((Ipv4Addr::LOCALHOST, ctrl)).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    client.write_all(&[0, 0, 0, 5, 0]).unwrap(); // CMD_SET_LOCALITY 0
    let mut reply = [0xffu8; 4];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(reply, [0; 4]);
}

#[test]
fn mux_stop_returns_promptly_with_idle_clients_connected() {
    let mut mux = TpmMux::start(None, 0, fake_swtpm()).unwrap();
    let (port, ctrl) = mux.ports().unwrap();
    let mut idle = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    let _idle_ctrl = TcpStream::connect((Ipv4Addr::LOCALHOST, ctrl)).unwrap();
    transact(&mut idle, &get_random());
    thread::sleep(Duration::from_millis(50)); // let the control connection be accepted
    let start = Instant::now();
    mux.stop();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "stop took {:?}",
        start.elapsed()
    );
    // The client sees its connection closed.
    idle.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 1];
    assert!(matches!(idle.read(&mut buf), Ok(0) | Err(_)));
    assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err());
}
