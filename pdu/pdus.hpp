// All typed PDUs of RFC 7143 §11 and the LUN helpers.
#pragma once

#include "pdu/bhs.hpp"
#include "pdu/initiator_pdus.hpp"
#include "pdu/lun.hpp"
#include "pdu/target_pdus.hpp"
