// SPDX-License-Identifier: Apache-2.0
#pragma once
// The project's only logging entry point (spdlog). Library code logs through these macros, never
// through std::cout.

#include <spdlog/spdlog.h>

#define BLAZEN_LOG_TRACE(...) SPDLOG_TRACE(__VA_ARGS__)
#define BLAZEN_LOG_DEBUG(...) SPDLOG_DEBUG(__VA_ARGS__)
#define BLAZEN_LOG_INFO(...) SPDLOG_INFO(__VA_ARGS__)
#define BLAZEN_LOG_WARN(...) SPDLOG_WARN(__VA_ARGS__)
#define BLAZEN_LOG_ERROR(...) SPDLOG_ERROR(__VA_ARGS__)
