/** Keys made with wireguard-tools 1.0.20210914 on this machine (`wg genkey`, `wg pubkey`, `wg genpsk`; hex by xxd): test data only. */
export const KEY_A = {
  private: 'YAnyc65EMsb36wayGwRAkwEMUodsXTiNaQwdZ+bxRUc=',
  public: 'K72MnY2FpiuJ6ar61jtNR2CHQIQKvNEXgBYDHxu3jVU=',
  privateHex: '6009f273ae4432c6f7eb06b21b044093010c52876c5d388d690c1d67e6f14547',
  publicHex: '2bbd8c9d8d85a62b89e9aafad63b4d47608740840abcd1178016031f1bb78d55',
} as const;
export const KEY_B = {
  private: 'gJnkZp6t4CMNNBDO9sYuEGHV0rh/utUVwZnXCipZel4=',
  public: 'YeWeDxkz1zIR46r2wzMNL4EUYEJW5etS83aSQ7hZ+GY=',
  privateHex: '8099e4669eade0230d3410cef6c62e1061d5d2b87fbad515c199d70a2a597a5e',
  publicHex: '61e59e0f1933d73211e3aaf6c3330d2f8114604256e5eb52f3769243b859f866',
} as const;
export const PSK = 'zJqgFI4B+U/yMJszoka/W9cBOsTb6Hf+2FiRmjBnFks=';
