//! A dedicated thread that owns the TPM: async code sends it closures and awaits the answer, so
//! blocking TPM commands never run on an async worker and never interleave.

use std::sync::mpsc;

use tokio::sync::oneshot;

use crate::tpm::{Tpm, TpmError};

type Job = Box<dyn FnOnce(&mut dyn Tpm) + Send>;

/// Cloneable handle to the TPM thread.
#[derive(Clone)]
pub struct TpmHandle {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for TpmHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TpmHandle")
    }
}

impl TpmHandle {
    /// Moves `tpm` onto its own thread. The thread ends when the last handle is dropped.
    pub fn spawn(tpm: Box<dyn Tpm>) -> Result<Self, TpmError> {
        let (jobs, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("tpm".to_owned())
            .spawn(move || {
                let mut tpm = tpm;
                for job in rx {
                    job(tpm.as_mut());
                }
            })
            .map_err(|e| TpmError::InvalidRequest(format!("cannot start the TPM thread: {e}")))?;
        Ok(Self { jobs })
    }

    /// Runs `f` on the TPM thread and returns its result.
    pub async fn call<T, F>(&self, f: F) -> Result<T, TpmError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Tpm) -> Result<T, TpmError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |tpm| {
            let _ = tx.send(f(tpm));
        });
        let gone = || TpmError::InvalidRequest("the TPM thread has stopped".to_owned());
        self.jobs.send(job).map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }
}
