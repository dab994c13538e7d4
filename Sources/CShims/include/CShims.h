#ifndef TOTP_CSHIMS_H
#define TOTP_CSHIMS_H
// Typed wrappers for curl's variadic functions, which Swift cannot call directly.
// Each passes exactly the C type the option expects (long, pointer, curl_off_t).
#include <curl/curl.h>

CURLcode tg_curl_easy_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode tg_curl_easy_setopt_ptr(CURL *handle, CURLoption option, const void *value);
CURLcode tg_curl_easy_setopt_str(CURL *handle, CURLoption option, const char *value);
CURLcode tg_curl_easy_setopt_off(CURL *handle, CURLoption option, curl_off_t value);
CURLcode tg_curl_easy_setopt_write_callback(CURL *handle,
    size_t (*callback)(char *ptr, size_t size, size_t nmemb, void *userdata));
CURLcode tg_curl_easy_setopt_header_callback(CURL *handle,
    size_t (*callback)(char *ptr, size_t size, size_t nmemb, void *userdata));
CURLcode tg_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode tg_curl_easy_getinfo_double(CURL *handle, CURLINFO info, double *value);
CURLcode tg_curl_easy_getinfo_off(CURL *handle, CURLINFO info, curl_off_t *value);
CURLcode tg_curl_easy_getinfo_str(CURL *handle, CURLINFO info, const char **value);
long tg_curl_global_default(void);

#endif
