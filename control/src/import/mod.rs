//! Configurations made from other systems' descriptions of a deployment: [`aws`], what
//! `scripts/export-aws.sh` saved from the AWS CLI (`vpcectl import aws`).

pub mod aws;
