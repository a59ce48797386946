//! Tests of the state rules.
