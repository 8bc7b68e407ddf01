-- One database per service (the services own their schemas and apply their migrations).
CREATE DATABASE lms;
CREATE DATABASE lxp;
CREATE DATABASE lrs;
