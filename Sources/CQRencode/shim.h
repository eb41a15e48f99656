/* libqrencode (Debian libqrencode-dev), the QR encoder; totpd renders its module matrix. */
#include <qrencode.h>
