/*
 * kqsim/netinet/in.h - <netinet/in.h> for C programs that run in the kqsim
 * model. Nothing here is a call, so it is the system's <netinet/in.h>
 * (struct sockaddr_in, INADDR_ANY, INADDR_LOOPBACK, IPPROTO_TCP, htons/ntohs)
 * plus <arpa/inet.h> (inet_addr, inet_pton, inet_ntoa), which run on the host
 * unchanged. The socket calls are in <kqsim/sys/socket.h>.
 */
#ifndef KQSIM_NETINET_IN_H_
#define KQSIM_NETINET_IN_H_

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#endif /* KQSIM_NETINET_IN_H_ */
