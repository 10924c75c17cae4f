//! DNS checks: the records a MailDomain asks for, looked up through a real resolver.
