//! The simulators' control API: fault injection per upstream and operation, request counts, state dumps, DNS publishing.
